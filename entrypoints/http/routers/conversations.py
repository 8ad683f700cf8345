"""/conversations: the agents' inbox (list, one, thread), and taking, reading and closing a conversation."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Response

from application.authorization import Actor
from application.ports.conversations import ConversationFilter, ConversationSummary, MessageCursor
from application.use_cases.conversations.assign_conversation import AssignCommand, AssignConversation
from application.use_cases.conversations.close_conversation import CloseConversation
from application.use_cases.conversations.get_conversation import GetConversation
from application.use_cases.conversations.list_conversation_messages import ListConversationMessages
from application.use_cases.conversations.list_conversations import ListConversations
from application.use_cases.conversations.mark_conversation_read import MarkConversationRead
from domain.conversations import ConversationState
from domain.errors import InvalidValue
from domain.messaging import CustomerServiceWindow
from entrypoints.http.deps import CurrentActor, PageParams, set_total
from entrypoints.http.errors import error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.conversations import (
    AssignIn,
    ConversationAssigneeOut,
    ConversationContactOut,
    ConversationNumberOut,
    ConversationOut,
    LastMessageOut,
)
from entrypoints.http.schemas.whatsapp import MessageOut

router = APIRouter(prefix="/conversations", tags=["conversations"], route_class=DeprecationAwareRoute)

NEXT_CURSOR_HEADER = "X-Next-Cursor"

def conversation_out(found: ConversationSummary) -> ConversationOut:
    c, last = found.conversation, found.last_message
    return ConversationOut(
        id=c.id, contact=ConversationContactOut(id=c.contact_id, name=found.contact_name,
                                                whatsapp_id=found.contact_whatsapp_id),
        number=ConversationNumberOut(id=c.number_id, phone_number=found.number_phone,
                                     display_name=found.number_display_name),
        last_message=None if last is None else LastMessageOut(
            type=last.type, text=last.text, summary=last.text or f"[{last.type}]",
            direction=last.direction,  # type: ignore[arg-type]
            occurred_at=last.occurred_at),
        unread_count=c.unread_count, state=c.state.value,
        assignee=None if c.assignee_id is None else ConversationAssigneeOut(id=c.assignee_id,
                                                                           name=found.assignee_name),
        window_expires_at=CustomerServiceWindow.closes_at(c.last_inbound_at), last_message_at=c.last_message_at,
        last_inbound_at=c.last_inbound_at, last_read_at=c.last_read_at, handoff_at=c.handoff_at,
        created_at=c.created_at, updated_at=c.updated_at)

def encode_cursor(cursor: MessageCursor) -> str:
    return base64.urlsafe_b64encode(f"{cursor[0].isoformat()}|{cursor[1]}".encode()).decode().rstrip("=")

def decode_cursor(value: str) -> MessageCursor:
    try:
        at, _, message_id = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode().partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, UUID(message_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidValue("before must be a cursor from the X-Next-Cursor header of a previous page.",
                           field="query:before") from None

def _filter(actor: Actor, state: ConversationState | None, assigned_to: str | None, number_id: UUID | None,
            query: str | None) -> ConversationFilter:
    assignee, unassigned = None, False
    if assigned_to == "me":
        assignee = actor.user_id
    elif assigned_to == "unassigned":
        unassigned = True
    elif assigned_to is not None:
        try:
            assignee = UUID(assigned_to)
        except ValueError:
            raise InvalidValue("assigned_to must be 'me', 'unassigned' or a user id.",
                               field="query:assigned_to") from None
    return ConversationFilter(state=state, assignee_id=assignee, unassigned=unassigned, number_id=number_id,
                              query=query or None)

@router.get("", response_model=list[ConversationOut],
            summary="The inbox: conversations, newest activity first (total in X-Total-Count)",
            responses=error_responses(401, 403, 422))
@inject
async def list_conversations(
    actor: CurrentActor, page: PageParams, response: Response,
    state: Annotated[ConversationState | None, Query(description="Only conversations in this state")] = None,
    assigned_to: Annotated[str | None, Query(max_length=36, description="'me', 'unassigned' or a user id")] = None,
    number_id: Annotated[UUID | None, Query(description="Only conversations with this WhatsApp number")] = None,
    query: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$",
                                       description="A substring of the contact's name or WhatsApp number")] = None,
    use_case: ListConversations = Depends(Provide["list_conversations"]),
) -> list[ConversationOut]:
    found, total = await use_case.execute(actor, _filter(actor, state, assigned_to, number_id, query),
                                          limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [conversation_out(f) for f in found]

@router.get("/{conversation_id}", response_model=ConversationOut, summary="One conversation of the inbox",
            responses=error_responses(401, 403, 404, 422))
@inject
async def get_conversation(actor: CurrentActor, conversation_id: UUID,
                           use_case: GetConversation = Depends(Provide["get_conversation"])) -> ConversationOut:
    return conversation_out(await use_case.execute(actor, conversation_id))

@router.get("/{conversation_id}/messages", response_model=list[MessageOut],
            summary="The conversation's messages, newest first, a page at a time (keyset)",
            description="Pass the `X-Next-Cursor` header of a page as `before` to get the older messages; the "
                        "header is absent on the last page.",
            responses={**error_responses(401, 403, 404, 422),
                       200: {"headers": {NEXT_CURSOR_HEADER: {
                           "description": "Cursor of the next (older) page; absent on the last page",
                           "schema": {"type": "string"}}}}})
@inject
async def list_conversation_messages(
    actor: CurrentActor, conversation_id: UUID, response: Response,
    before: Annotated[str | None, Query(max_length=200, description="X-Next-Cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (1..200)")] = 50,
    use_case: ListConversationMessages = Depends(Provide["list_conversation_messages"]),
) -> list[MessageOut]:
    page = await use_case.execute(actor, conversation_id, before=decode_cursor(before) if before else None,
                                  limit=limit)
    if page.next_cursor is not None:
        response.headers[NEXT_CURSOR_HEADER] = encode_cursor(page.next_cursor)
    return [MessageOut.model_validate({k: getattr(m, k) for k in MessageOut.model_fields}) for m in page.messages]

@router.post("/{conversation_id}/assign", response_model=ConversationOut,
             summary="Take a conversation, let go of it (user_id null), or (admins) give it to an agent",
             responses=error_responses(401, 403, 404, 409, 422))
@inject
async def assign_conversation(actor: CurrentActor, conversation_id: UUID, body: AssignIn,
                              use_case: AssignConversation = Depends(Provide["assign_conversation"])
                              ) -> ConversationOut:
    return conversation_out(await use_case.execute(actor, AssignCommand(conversation_id=conversation_id,
                                                                        user_id=body.user_id)))

@router.post("/{conversation_id}/read", response_model=ConversationOut,
             summary="Mark the conversation read (unread_count 0)", responses=error_responses(401, 403, 404, 422))
@inject
async def read_conversation(actor: CurrentActor, conversation_id: UUID,
                            use_case: MarkConversationRead = Depends(Provide["mark_conversation_read"])
                            ) -> ConversationOut:
    return conversation_out(await use_case.execute(actor, conversation_id))

@router.post("/{conversation_id}/close", response_model=ConversationOut,
             summary="Close the conversation: the bot answers the contact again",
             responses=error_responses(401, 403, 404, 422))
@inject
async def close_conversation(actor: CurrentActor, conversation_id: UUID,
                             use_case: CloseConversation = Depends(Provide["close_conversation"])
                             ) -> ConversationOut:
    return conversation_out(await use_case.execute(actor, conversation_id))
