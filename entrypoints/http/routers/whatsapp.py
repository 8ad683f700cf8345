"""/whatsapp: numbers, send, message status, and Meta's webhook (verification handshake + signed events)."""

from __future__ import annotations

import hmac
import mimetypes
from typing import Annotated, Any
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.background import BackgroundTask

from application.authorization import Permission
from application.ports.media import MediaStore
from application.use_cases.whatsapp.get_media_upload import GetMediaUpload
from application.use_cases.whatsapp.get_message import GetMessage
from application.use_cases.whatsapp.ingest_webhook import IngestWebhook
from application.use_cases.whatsapp.list_numbers import ListNumbers
from application.use_cases.whatsapp.list_templates import ListTemplates
from application.use_cases.whatsapp.mark_message_read import MarkMessageRead
from application.use_cases.whatsapp.media import GetInboundMedia
from application.use_cases.whatsapp.register_number import RegisterNumber, RegisterNumberCommand
from application.use_cases.whatsapp.request_template_sync import RequestTemplateSync
from application.use_cases.whatsapp.send_message import SendMessage, SendMessageCommand
from application.use_cases.whatsapp.start_media_upload import MediaUploadCommand, StartMediaUpload
from domain.media import UPLOAD_LIMIT, MediaTooLarge, MediaUpload, MediaUploadNotFound
from entrypoints.config import Settings
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided, set_total
from entrypoints.http.errors import error_body, error_responses, json_error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.send import MarkReadIn, cards
from entrypoints.http.schemas.whatsapp import (
    MediaUploadOut,
    MessageDetailOut,
    MessageTemplateOut,
    RegisterNumberIn,
    SendIn,
    SendOut,
    StatusEventOut,
    TemplateSyncOut,
    WebhookAck,
    WhatsAppNumberOut,
)
from entrypoints.http.uploads import read_upload
from entrypoints.http.webhook_ingress import MAX_WEBHOOK_BYTES, accept_webhook

router = APIRouter(prefix="/whatsapp", tags=["whatsapp"], route_class=DeprecationAwareRoute)
_NUMBER_LIST = ListRenderer(WhatsAppNumberOut)


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


@router.post("/numbers/{number_id}/templates/sync", status_code=status.HTTP_202_ACCEPTED,
             response_model=TemplateSyncOut, summary="Queue a sync of the number's WABA message templates from Meta",
             description="The worker reads every template of the number's WhatsApp Business Account "
                         "(`GET /{waba_id}/message_templates`, all pages) with the number's token and stores them; "
                         "templates Meta no longer lists become `DELETED`. Follow it with `GET /whatsapp/templates"
                         "?number_id=`. 400 `whatsapp_number_without_waba` when the number was registered without "
                         "its `waba_id`.",
             responses=error_responses(400, 401, 403, 404, 422))
@inject
async def sync_templates(actor: CurrentActor, number_id: UUID,
                         use_case: RequestTemplateSync = Depends(Provide["request_template_sync"])) -> TemplateSyncOut:
    queued = await use_case.execute(actor, number_id)
    return TemplateSyncOut(status="queued", number_id=queued.number_id, waba_id=queued.waba_id,
                           already_queued=not queued.queued)


@router.get("/templates", response_model=list[MessageTemplateOut],
            summary="List the organization's synced message templates (total in X-Total-Count)",
            responses=error_responses(401, 403, 404, 422))
@inject
async def list_templates(
    actor: CurrentActor, page: PageParams, response: Response,
    number_id: Annotated[UUID | None, Query(description="Only the templates of this number's WABA")] = None,
    template_status: Annotated[str | None, Query(
        alias="status", max_length=32, description="APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...")] = None,
    query: Annotated[str | None, Query(max_length=200, description="Substring of the template name")] = None,
    use_case: ListTemplates = Depends(Provide["list_templates"]),
) -> list[MessageTemplateOut]:
    templates, total = await use_case.execute(actor, number_id=number_id, status=template_status, query=query,
                                              limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [MessageTemplateOut.model_validate(t) for t in templates]


@router.post("/send", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut,
             summary="Queue a message (templates always; every other type only inside the 24-hour window)",
             description="`to` is a phone number (a Brazilian number with or without the ninth digit reaches the "
                         "same contact) or a contact's BSUID (sent with Meta's `recipient` field). 400 "
                         "`outside_customer_service_window`, `whatsapp_number_not_active`, "
                         "`whatsapp_account_banned` (Meta disabled the number's WhatsApp Business Account), "
                         "`template_not_found`, `template_not_approved`, `template_parameters_mismatch`, "
                         "`templates_not_synced`.",
             responses=error_responses(400, 401, 403, 404, 422))
@inject
async def send(actor: CurrentActor, body: SendIn, use_case: SendMessage = Depends(Provide["send_message"])) -> SendOut:
    queued = await use_case.execute(actor, SendMessageCommand(
        to=body.to, message=body.message, type=body.type, template_id=body.template_id, language=body.language,
        components=body.components, buttons=[(b.id, b.title) for b in body.buttons], header=body.header_json(),
        footer=body.footer, media=body.media(),
        reaction=body.reaction.model_dump() if body.reaction else None,
        location=body.location.model_dump(exclude_none=True) if body.location else None,
        contacts=cards(body.contacts), reply_to=body.context.message_id if body.context else None,
        from_number_id=body.from_number_id))
    return SendOut(message_id=queued.message_id, status=queued.status)


_MEDIA_BODY: dict[str, Any] = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "additionalProperties": False, "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "The file, with its content type: image/jpeg, image/png (5 MB), image/webp "
                                "(stickers, 500 KB), video/mp4, video/3gpp, audio/aac, audio/amr, audio/mpeg, "
                                "audio/mp4, audio/ogg, text/plain, application/pdf and Office documents; at most "
                                f"{UPLOAD_LIMIT // (1024 * 1024)} MiB here (send larger documents by link)"},
        "type": {"type": "string", "maxLength": 128,
                 "description": "The MIME type, when the file part does not carry the right one"},
    }}}}}


@router.post("/numbers/{number_id}/media", status_code=status.HTTP_202_ACCEPTED, response_model=MediaUploadOut,
             summary="Upload a file to WhatsApp for this number (queued; poll for Meta's media id)",
             description="The file is stored and a worker uploads it to Meta (`POST /{phone_number_id}/media`); "
                         "follow it with `GET /whatsapp/numbers/{number_id}/media/{id}` until `status` is "
                         "`uploaded` and use its `media_id` in `POST /whatsapp/send` "
                         "(`{\"type\": \"image\", \"image\": {\"id\": ...}}`). "
                         "Agents and admins.",
             openapi_extra={"requestBody": _MEDIA_BODY}, responses=error_responses(400, 401, 403, 404, 413, 422))
@inject
async def upload_media(number_id: UUID, request: Request, actor: CurrentActor, response: Response,
                       use_case: StartMediaUpload = Depends(Provide["start_media_upload"])) -> MediaUploadOut:
    actor.require(Permission.SEND_MESSAGES)  # before reading the body
    upload = await read_upload(request, max_file_bytes=UPLOAD_LIMIT, too_large=MediaTooLarge, fields=("type",))
    mime_type = upload.fields.get("type") or upload.content_type or ""
    started = await use_case.execute(actor, MediaUploadCommand(number_id=number_id, filename=upload.filename or "",
                                                               mime_type=mime_type, content=upload.content))
    response.headers["Location"] = f"/api/v1/whatsapp/numbers/{number_id}/media/{started.id}"
    return media_out(started)


@router.get("/numbers/{number_id}/media/{upload_id}", response_model=MediaUploadOut,
            summary="A media upload and Meta's media id", responses=error_responses(401, 403, 404, 422))
@inject
async def get_media_upload(number_id: UUID, upload_id: UUID, actor: CurrentActor,
                    use_case: GetMediaUpload = Depends(Provide["get_media_upload"])) -> MediaUploadOut:
    upload = await use_case.execute(actor, upload_id)
    if upload.number_id != number_id:  # another number's upload is not found under this one
        raise MediaUploadNotFound()
    return media_out(upload)


def media_out(upload: MediaUpload) -> MediaUploadOut:
    return MediaUploadOut.model_validate({**{k: getattr(upload, k) for k in MediaUploadOut.model_fields
                                             if k != "kind"}, "kind": upload.kind})


@router.post("/messages/{message_id}/read", status_code=status.HTTP_202_ACCEPTED, response_model=SendOut,
             summary="Mark an inbound message as read, optionally showing the typing indicator (queued)",
             description="Meta marks this message and the earlier ones of the conversation read; with "
                         "`typing_indicator` the contact sees \"typing...\" until you reply or for 25 seconds. "
                         "Agents and admins.",
             responses=error_responses(400, 401, 403, 404, 422))
@inject
async def mark_read(message_id: UUID, actor: CurrentActor, body: MarkReadIn | None = None,
                    use_case: MarkMessageRead = Depends(Provide["mark_message_read"])) -> SendOut:
    await use_case.execute(actor, message_id, typing=body.typing_indicator if body else False)
    return SendOut(message_id=message_id, status="queued")


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


_INLINE_KINDS = ("image", "audio", "video", "sticker")
_MEDIA_DOC = (
    "The bytes of an inbound message's image, audio (voice notes included), video, document or sticker, fetched from "
    "WhatsApp with the receiving number's token (or served from the server's disk copy). Any member of the "
    "organization may read it (viewer, agent, admin). `Content-Type` is WhatsApp's; documents come as attachments "
    "with their file name. The SHA-256 WhatsApp reports is checked before a byte is sent. 404: no such message in "
    "the organization, or WhatsApp no longer has the media (`media_not_found`, kept about 30 days); 409 "
    "`message_has_no_media`: not an inbound media message, or the contact deleted it; 413 `media_too_large`: over "
    "`MEDIA_MAX_BYTES`; 503: WhatsApp could not be reached, the checksum did not match, or the number's token was "
    "rejected (`media_token_rejected`).")


@router.get("/media/{message_id}", response_class=FileResponse, summary="Download an inbound message's media",
            description=_MEDIA_DOC,
            responses={200: {"description": "The media bytes", "content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}, **json_error_responses(401, 403, 404, 409, 413,
                                                                                            422, 503)})
@inject
async def get_media(actor: CurrentActor, message_id: UUID,
                    use_case: GetInboundMedia = Depends(Provide["get_inbound_media"]),
                    store: MediaStore = Depends(Provide["media_store"])) -> FileResponse:
    media = await use_case.execute(actor, message_id)
    inline = media.kind in _INLINE_KINDS
    filename = media.filename or f"{media.kind}-{message_id}{_extension(media.file.mime_type)}"
    return FileResponse(
        media.file.path, media_type=media.file.mime_type, filename=filename,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
                 "Cache-Control": "private, max-age=300"},
        background=BackgroundTask(store.release, media.file) if media.file.temporary else None)


def _extension(mime_type: str) -> str:
    return mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ""


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
             description="Served by `entrypoints/http/webhook_ingress.py` ahead of the framework's layers; this "
                         "route documents it and serves it when that layer is not installed.",
             responses=error_responses(401, 413, 503))
async def receive_webhook(request: Request, use_case: IngestWebhook = provided("ingest_webhook")) -> Response:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_WEBHOOK_BYTES:
        return JSONResponse(error_body(413, "Webhook body too large.", "payload_too_large"), status_code=413)
    status, body, headers = await accept_webhook(use_case, await request.body(), request.headers.get(
        "x-hub-signature-256"))
    return JSONResponse(body, status_code=status, headers=headers)
