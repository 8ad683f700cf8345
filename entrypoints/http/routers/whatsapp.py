"""/whatsapp: numbers, send, message status, and Meta's webhook (verification handshake + signed events)."""

from __future__ import annotations

import hmac
from typing import Annotated
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import TypeAdapter

from application.use_cases.whatsapp.ingest_webhook import IngestWebhook
from application.use_cases.whatsapp.messages import GetMessage
from application.use_cases.whatsapp.numbers import ListNumbers, RegisterNumber, RegisterNumberCommand
from application.use_cases.whatsapp.send_message import SendMessage, SendMessageCommand
from entrypoints.config import Settings
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided
from entrypoints.http.errors import error_body, error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.whatsapp import (
    MessageDetailOut,
    RegisterNumberIn,
    SendIn,
    SendOut,
    StatusEventOut,
    WebhookAck,
    WhatsAppNumberOut,
)

router = APIRouter(prefix="/whatsapp", tags=["whatsapp"], route_class=DeprecationAwareRoute)
_NUMBER_LIST = TypeAdapter(list[WhatsAppNumberOut])

MAX_WEBHOOK_BYTES = 4 * 1024 * 1024


@router.get("/numbers", response_model=list[WhatsAppNumberOut], summary="List the organization's WhatsApp numbers",
            responses=error_responses(401, 403, 422))
async def list_numbers(actor: CurrentActor, page: PageParams,
                       use_case: ListNumbers = provided("list_numbers")) -> Response:
    numbers, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    return json_page(_NUMBER_LIST, numbers, total)


@router.post("/numbers", status_code=status.HTTP_201_CREATED, response_model=WhatsAppNumberOut,
             summary="Register a number with the vault secret holding its token (checked against the Graph API)",
             responses=error_responses(400, 401, 403, 404, 409, 422))
@inject
async def register_number(actor: CurrentActor, body: RegisterNumberIn,
                          use_case: RegisterNumber = Depends(Provide["register_number"])) -> WhatsAppNumberOut:
    number = await use_case.execute(actor, RegisterNumberCommand(
        phone_number_id=body.phone_number_id, waba_id=body.waba_id, access_token_secret_id=body.access_token_secret_id))
    return WhatsAppNumberOut.model_validate(number)


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut,
             summary="Queue a message (text and interactive only inside the 24-hour window; templates always)",
             responses=error_responses(400, 401, 403, 404, 422))
@inject
async def send(actor: CurrentActor, body: SendIn, use_case: SendMessage = Depends(Provide["send_message"])) -> SendOut:
    queued = await use_case.execute(actor, SendMessageCommand(
        to=body.to, message=body.message, type=body.type, template_id=body.template_id, language=body.language,
        components=body.components, buttons=[(b.id, b.title) for b in body.buttons],
        from_number_id=body.from_number_id))
    return SendOut(message_id=queued.message_id, status=queued.status)


@router.get("/messages/{message_id}", response_model=MessageDetailOut,
            summary="A message with its status history", responses=error_responses(401, 403, 404, 422))
@inject
async def get_message(actor: CurrentActor, message_id: UUID,
                      use_case: GetMessage = Depends(Provide["get_message"])) -> MessageDetailOut:
    message, history = await use_case.execute(actor, message_id)
    out = MessageDetailOut.model_validate({**{k: getattr(message, k) for k in MessageDetailOut.model_fields
                                              if k != "status_history"},
                                           "status_history": [StatusEventOut.model_validate(e) for e in history]})
    return out


@router.get("/webhook", response_class=PlainTextResponse, summary="Meta's verification handshake",
            responses={403: {"description": "verify token mismatch"}})
@inject
async def verify_webhook(
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=256)] = None,
    settings: Settings = Depends(Provide["settings"]),
) -> Response:
    expected = settings.whatsapp_verify_token.get_secret_value() if settings.whatsapp_verify_token else ""
    if mode == "subscribe" and token and expected and hmac.compare_digest(token.encode(), expected.encode()) \
            and challenge is not None:
        return PlainTextResponse(challenge)
    return JSONResponse(error_body(403, "Verification token mismatch.", "invalid_verify_token"), status_code=403)


@router.post("/webhook", response_model=WebhookAck, summary="Meta's signed webhook (X-Hub-Signature-256)",
             responses=error_responses(401, 413))
@inject
async def receive_webhook(request: Request,
                          use_case: IngestWebhook = Depends(Provide["ingest_webhook"])) -> Response:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_WEBHOOK_BYTES:
        return JSONResponse(error_body(413, "Webhook body too large.", "payload_too_large"), status_code=413)
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return JSONResponse(error_body(413, "Webhook body too large.", "payload_too_large"), status_code=413)
    event_id = await use_case.execute(body, request.headers.get("x-hub-signature-256"))
    return JSONResponse({"status": "received" if event_id else "duplicate"})
