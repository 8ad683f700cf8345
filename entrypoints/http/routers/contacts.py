"""/contacts: the two contract endpoints plus get, update and delete."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Response, status

from application.use_cases.contacts.common import UNSET
from application.use_cases.contacts.create_contact import CreateContact, CreateContactCommand
from application.use_cases.contacts.delete_contact import DeleteContact
from application.use_cases.contacts.get_contact import GetContact
from application.use_cases.contacts.search_contacts import SearchContacts
from application.use_cases.contacts.update_contact import UpdateContact, UpdateContactCommand
from application.use_cases.whatsapp.list_contact_messages import ListContactMessages
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided
from entrypoints.http.errors import error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute, id_segment
from entrypoints.http.schemas.contacts import ContactCreateIn, ContactOut, ContactUpdateIn
from entrypoints.http.schemas.whatsapp import MessageOut

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=DeprecationAwareRoute)
_CONTACT_LIST = ListRenderer(ContactOut)
_MESSAGE_LIST = ListRenderer(MessageOut)
_ID = "{contact_id:" + id_segment("contact_id", "imports", "export") + "}"  # contact_transfer owns those two


@router.get("", response_model=list[ContactOut], summary="List or search contacts (newest first)",
            responses=error_responses(401, 403, 422))
async def list_contacts(
    actor: CurrentActor, page: PageParams,
    query: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$",
                                       description="Substring of name, email or whatsapp_id")]
    = None,
    use_case: SearchContacts = provided("search_contacts"),
) -> Response:
    contacts, total = await use_case.execute(actor, query=query, limit=page.limit, offset=page.offset)
    return json_page(_CONTACT_LIST, contacts, total)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ContactOut, summary="Create a contact",
             responses=error_responses(401, 403, 409, 422))
@inject
async def create_contact(actor: CurrentActor, body: ContactCreateIn,
                         use_case: CreateContact = Depends(Provide["create_contact"])) -> ContactOut:
    contact = await use_case.execute(actor, CreateContactCommand(
        whatsapp_id=body.whatsapp_id, name=body.name, email=body.email, tags=body.tags,
        attributes=body.attributes, opted_out=body.opted_out))
    return ContactOut.model_validate(contact)


@router.get(f"/{_ID}", response_model=ContactOut, summary="Get a contact",
            responses=error_responses(401, 403, 404, 422))
@inject
async def get_contact(actor: CurrentActor, contact_id: UUID,
                      use_case: GetContact = Depends(Provide["get_contact"])) -> ContactOut:
    return ContactOut.model_validate(await use_case.execute(actor, contact_id))


@router.put(f"/{_ID}", response_model=ContactOut,
            summary="Update a contact (fields left out are unchanged; null clears name or email)",
            responses=error_responses(401, 403, 404, 409, 422))
@inject
async def update_contact(actor: CurrentActor, contact_id: UUID, body: ContactUpdateIn,
                         use_case: UpdateContact = Depends(Provide["update_contact"])) -> ContactOut:
    given = body.model_dump(exclude_unset=True)
    for key in ("whatsapp_id", "tags", "attributes", "opted_out"):
        if key in given and given[key] is None:
            given.pop(key)
    command = UpdateContactCommand(contact_id=contact_id, **{
        k: given.get(k, UNSET) for k in ("whatsapp_id", "name", "email", "tags", "attributes", "opted_out")})
    return ContactOut.model_validate(await use_case.execute(actor, command))


@router.delete(f"/{_ID}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete a contact", responses=error_responses(401, 403, 404, 422))
@inject
async def delete_contact(actor: CurrentActor, contact_id: UUID,
                         use_case: DeleteContact = Depends(Provide["delete_contact"])) -> Response:
    await use_case.execute(actor, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"/{_ID}/messages", response_model=list[MessageOut],
            summary="The contact's conversation history (newest first)", responses=error_responses(401, 403, 404, 422))
async def contact_messages(
    actor: CurrentActor, contact_id: UUID, page: PageParams,
    use_case: ListContactMessages = provided("list_contact_messages"),
) -> Response:
    messages, total = await use_case.execute(actor, contact_id, limit=page.limit, offset=page.offset)
    return json_page(_MESSAGE_LIST, messages, total)
