"""/events: the organization's live events over Server-Sent Events, and the tickets browsers open them with."""

from __future__ import annotations

from typing import Annotated

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Header, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from application.use_cases.auth.authenticate import AuthenticateRequest
from application.use_cases.events.common import Listener, listener_of
from application.use_cases.events.issue_event_ticket import IssueEventTicket
from application.use_cases.events.redeem_event_ticket import RedeemEventTicket
from application.use_cases.events.stream import StreamEvents
from domain.errors import InvalidValue
from entrypoints.http.deps import CurrentActor, MissingToken, bearer, current_actor
from entrypoints.http.errors import error_responses, json_error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.events import EventTicketOut
from entrypoints.http.sse import EventStreamResponse

router = APIRouter(prefix="/events", tags=["events"], route_class=DeprecationAwareRoute)

_STREAM_DOC = """A `text/event-stream` of the organization's live events, oldest first. Each event has an `id:`
(increasing), an `event:` type and a JSON `data:` line:

- `message.received` `{message_id, contact_id, number_id, type, preview, occurred_at}`
- `message.status` `{message_id, contact_id, number_id, status, error_code}`
- `conversation.updated` `{conversation_id, contact_id, number_id, reason, handed_off, last_message_at}`
- `flow_execution.finished` `{execution_id, flow_id, contact_id, status, fail_reason, automation_id}`
- `automation.progress` `{automation_id, status, phase, counts}` (at most about four a second per automation)
- `secret.rotated` `{secret_id, key, version, status, kind}` (never the value)
- `reset` `{id}`: the resume point is older than the 24-hour retention: refetch, then go on from `id`.

Authenticate with `?ticket=` (from `POST /events/ticket`; browsers: an EventSource cannot send headers) or the
`Authorization: Bearer` header; never put an access token in a URL. Resume with the `Last-Event-ID` header
(an EventSource sends it when it reconnects) or `?last_event_id=` (a new EventSource, opened with a new ticket).
A comment line (`: heartbeat`) comes every 15 seconds while nothing happens. The server ends the stream when it
shuts down or when the client reads too slowly; reconnect with the last id seen and nothing is missed."""


@router.post("/ticket", status_code=status.HTTP_201_CREATED, response_model=EventTicketOut,
             summary="A single-use ticket to open the event stream (any member)",
             responses=error_responses(401, 403))
@inject
async def issue_ticket(actor: CurrentActor,
                       use_case: IssueEventTicket = Depends(Provide["issue_event_ticket"])) -> EventTicketOut:
    issued = await use_case.execute(actor)
    return EventTicketOut(ticket=issued.ticket, expires_at=issued.expires_at)


@router.get("", response_class=EventStreamResponse, status_code=status.HTTP_200_OK,
            summary="The organization's live events (Server-Sent Events)", description=_STREAM_DOC,
            responses={200: {"description": "The event stream", "content": {"text/event-stream": {"schema": {
                "type": "string"}}}}, **json_error_responses(401, 403, 422, 503)})
@inject
async def stream_events(
    request: Request,
    ticket: Annotated[str | None, Query(min_length=1, max_length=200,
                                        description="From `POST /events/ticket`; single use, 60 seconds")] = None,
    last_event_id_query: Annotated[str | None, Query(alias="last_event_id", max_length=20, pattern=r"^[0-9]+$",
                                                     description="Resume after this event id")] = None,
    last_event_id: Annotated[str | None, Header(max_length=40, description="Resume after this event id")] = None,
    x_organization_id: Annotated[str | None, Header(include_in_schema=False)] = None,
    authenticate: AuthenticateRequest = Depends(Provide["authenticate"]),
    redeem: RedeemEventTicket = Depends(Provide["redeem_event_ticket"]),
    use_case: StreamEvents = Depends(Provide["stream_events"]),
) -> EventStreamResponse:
    resume = _event_id(last_event_id_query if last_event_id_query is not None else last_event_id)
    listener = await _listener(request, ticket, x_organization_id, authenticate, redeem)
    stream = await use_case.open(listener, resume)
    return EventStreamResponse(stream, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        parsed = int(value.strip())
    except ValueError:
        raise InvalidValue("Last-Event-ID must be an event id (a number).", field="header:Last-Event-ID") from None
    if not 0 <= parsed < 2**63:
        raise InvalidValue("Last-Event-ID must be an event id (a number).", field="header:Last-Event-ID")
    return parsed


async def _listener(request: Request, ticket: str | None, x_organization_id: str | None,
                    authenticate: AuthenticateRequest, redeem: RedeemEventTicket) -> Listener:
    if ticket is not None:
        return await redeem.execute(ticket)
    credentials: HTTPAuthorizationCredentials | None = await bearer(request)
    if credentials is None:
        raise MissingToken("Authentication required: open the stream with '?ticket=' (POST /events/ticket) or "
                           "send 'Authorization: Bearer <access_token>'.")
    actor = await current_actor(request=request, credentials=credentials, x_organization_id=x_organization_id,
                                authenticate=authenticate)
    return listener_of(actor)
