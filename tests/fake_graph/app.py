"""The fake Graph API as a Starlette app over a :class:`FakeGraph`."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fake_graph.faults import (
    GraphFault,
    bad_param,
    invalid_token,
    object_missing,
    throughput_reached,
)
from tests.fake_graph.state import FakeGraph, FakeNumber, RecordedRequest
from tests.fake_graph.templates import check_template_send, list_templates
from tests.fake_graph.validation import canonical_wa_id, recipient_key, validate_read, validate_send

_REDACTED = {"authorization", "cookie"}


def create_app(fake: FakeGraph) -> Starlette:
    async def messages(request: Request) -> Response:
        return await _handle(fake, request, _messages)

    async def phone_number(request: Request) -> Response:
        if fake.media(request.path_params["phone_number_id"]) is not None:
            return await _media_info(fake, request)
        return await _handle(fake, request, _phone_number)

    async def media_download(request: Request) -> Response:
        return await _media_download(fake, request)

    async def media(request: Request) -> Response:
        return await _handle(fake, request, _media_upload)

    async def unknown(request: Request) -> Response:
        return await _handle(fake, request, None)

    async def templates(request: Request) -> Response:  # a WABA's template list
        return await list_templates(fake, request)

    async def me(request: Request) -> Response:  # the token's own user/app (vault whatsapp_token test)
        return await _me(fake, request)

    return Starlette(routes=[
        Route("/whatsapp_business/attachments/", media_download, methods=["GET"]),
        Route("/{version}/{phone_number_id}/messages", messages, methods=["POST"]),
        Route("/{version}/{phone_number_id}/media", media, methods=["POST"]),
        Route("/{version}/me", me, methods=["GET"]),
        Route("/{version}/{waba_id}/message_templates", templates, methods=["GET"]),
        Route("/{version}/{phone_number_id}", phone_number, methods=["GET"]),
        Route("/{path:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ])


def _fault_response(fault: GraphFault) -> Response:
    if not fault.json_body:
        return PlainTextResponse("Internal Server Error" if fault.http_status >= 500 else "Error",
                                 status_code=fault.http_status)
    return JSONResponse(fault.payload(), status_code=fault.http_status, headers=fault.headers() or None)


async def _handle(fake: FakeGraph, request: Request, handler: Any) -> Response:
    received, generation = time.monotonic(), fake.generation
    raw = await request.body()
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", errors="replace")
    if fake.delay:
        await asyncio.sleep(fake.delay)
        if fake.generation != generation:  # the test that slowed us down is over
            return PlainTextResponse("stale request", status_code=503)
    number, token_valid, response = _authorize(fake, request)
    if fake.is_unavailable(request.path_params.get("phone_number_id")):
        response = _fault_response(GraphFault(2, 503, json_body=False))
    elif response is None:
        if handler is None:
            unknown_path = GraphFault(2500, 400, message="Unknown path components: " + request.url.path)
            response = _fault_response(unknown_path)
        else:
            assert number is not None
            response = handler(fake, number, request, body)
            if inspect.isawaitable(response):
                response = await response
    headers = {name: "<redacted>" if name in _REDACTED else value for name, value in request.headers.items()}
    fake.record_request(RecordedRequest(
        method=request.method, path=request.url.path, query=request.url.query, headers=headers, json=body,
        at=received, status=response.status_code, token_valid=token_valid,
    ))
    return response


def _authorize(fake: FakeGraph, request: Request) -> tuple[FakeNumber | None, bool, Response | None]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    phone_number_id = request.path_params.get("phone_number_id")
    number = fake.number(phone_number_id) if phone_number_id else None
    if number is None:
        if token and fake.token_known(token):
            if phone_number_id is None:
                return None, True, None
            return None, True, _fault_response(object_missing(phone_number_id, request.method.lower()))
        return None, False, _fault_response(invalid_token())
    if not token or token not in number.tokens or number.token_expired:
        return number, False, _fault_response(invalid_token())
    return number, True, None


def _messages(fake: FakeGraph, number: FakeNumber, request: Request, body: Any) -> Response:
    if not isinstance(body, dict):
        return _fault_response(bad_param("The request body must be a JSON object."))
    injected = fake.take_injected_failure()
    if injected is not None:
        return _fault_response(injected)
    if body.get("status") == "read":
        return _mark_read(fake, number, body)
    fault = validate_send(body)
    recipient = recipient_key(body) or ""
    fault = fault or fake.failure_for(recipient) or _template_fault(fake, number, body)
    if fault is not None:
        return _fault_response(fault)
    sent = fake.accept_send(number.phone_number_id, body, recipient)
    if sent is None:
        return _fault_response(throughput_reached())
    contact = {"input": body["to"], "wa_id": canonical_wa_id(recipient)} if "to" in body else {
        "input": recipient, "user_id": recipient}
    message: dict[str, str] = {"id": sent.wamid}
    if sent.type == "template":
        message["message_status"] = "accepted"
    return JSONResponse({"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})


def _template_fault(fake: FakeGraph, number: FakeNumber, body: dict[str, Any]) -> GraphFault | None:
    waba = fake.waba(number.waba_id) if number.waba_id else None
    if waba is None or body.get("type") != "template" or not isinstance(body.get("template"), dict):
        return None
    return check_template_send(waba.templates, body["template"])


def _mark_read(fake: FakeGraph, number: FakeNumber, body: dict[str, Any]) -> Response:
    fault = validate_read(body)
    if fault is not None:
        return _fault_response(fault)
    fake.accept_read(number.phone_number_id, body["message_id"], typing=body.get("typing_indicator") is not None)
    return JSONResponse({"success": True})


# Meta:business-messaging/whatsapp/business-phone-numbers/media "Supported media types"
UPLOAD_LIMITS: dict[str, int] = {
    "audio/aac": 16 << 20, "audio/amr": 16 << 20, "audio/mpeg": 16 << 20, "audio/mp4": 16 << 20,
    "audio/ogg": 16 << 20, "text/plain": 100 << 20, "application/pdf": 100 << 20,
    "application/vnd.ms-excel": 100 << 20, "application/msword": 100 << 20,
    "application/vnd.ms-powerpoint": 100 << 20,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 << 20,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 << 20,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
    "image/jpeg": 5 << 20, "image/png": 5 << 20, "image/webp": 500 << 10, "video/mp4": 16 << 20,
    "video/3gpp": 16 << 20,
}


async def _media_upload(fake: FakeGraph, number: FakeNumber, request: Request, body: Any) -> Response:
    """``POST /{phone_number_id}/media``: multipart with ``messaging_product=whatsapp``, ``type`` (the MIME type)
    and ``file``; answers ``{"id": <media id>}``."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return _fault_response(bad_param("Upload media as multipart/form-data."))
    form = await request.form()
    if form.get("messaging_product") != "whatsapp":
        return _fault_response(GraphFault(131008, 400, details="The parameter messaging_product is required."))
    mime_type, upload = form.get("type"), form.get("file")
    if not isinstance(mime_type, str) or not mime_type:
        return _fault_response(GraphFault(131008, 400, details="The parameter type is required."))
    if isinstance(upload, str) or upload is None or not upload.filename:
        return _fault_response(GraphFault(131008, 400, details="The parameter file is required."))
    content = await upload.read()
    limit = UPLOAD_LIMITS.get(mime_type)
    if limit is None or (upload.content_type or mime_type) != mime_type:
        return _fault_response(GraphFault(131053, 400, details=f"Unsupported media type {mime_type}."))
    if not content or len(content) > limit:
        return _fault_response(GraphFault(131053, 400, details=f"Media file size must be at most {limit} bytes."))
    if set(form.keys()) - {"messaging_product", "type", "file"}:
        return _fault_response(bad_param("Unexpected upload fields."))
    media = fake.accept_upload(number.phone_number_id, mime_type, upload.filename, content)
    return JSONResponse({"id": media.id})


def _phone_number(fake: FakeGraph, number: FakeNumber, request: Request, body: Any) -> Response:
    details = number.details()
    fields = request.query_params.get("fields")
    if fields:
        wanted = {name.strip() for name in fields.split(",")} | {"id"}
        details = {key: value for key, value in details.items() if key in wanted}
    return JSONResponse(details)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _record(fake: FakeGraph, request: Request, received: float, status: int, token_valid: bool) -> None:
    headers = {name: "<redacted>" if name in _REDACTED else value for name, value in request.headers.items()}
    fake.record_request(RecordedRequest(
        method=request.method, path=request.url.path, query=request.url.query, headers=headers, json=None,
        at=received, status=status, token_valid=token_valid,
    ))


def _media_token_valid(fake: FakeGraph, token: str, phone_number_id: str) -> bool:
    number = fake.number(phone_number_id)
    return bool(token) and number is not None and token in number.tokens and not number.token_expired


async def _media_info(fake: FakeGraph, request: Request) -> Response:
    """``GET /{version}/{media_id}``: Meta's retrieve-media answer (``url`` valid for five minutes, ``sha256``,
    ``file_size``, ``mime_type``); only a token of the number that received it may read it."""
    received = time.monotonic()
    media = fake.media(request.path_params["phone_number_id"])
    assert media is not None
    valid = _media_token_valid(fake, _bearer(request), media.phone_number_id)
    owner = request.query_params.get("phone_number_id")
    if not valid:
        response = _fault_response(invalid_token())
    elif owner is not None and owner != media.phone_number_id:
        response = _fault_response(object_missing(media.media_id, "get"))
    else:
        key = fake.media_url_key(media.media_id)
        url = f"{str(request.base_url).rstrip('/')}/whatsapp_business/attachments/?mid={media.media_id}" \
              f"&ext={int(time.time()) + int(media.url_ttl)}&hash={key}"
        response = JSONResponse({"messaging_product": "whatsapp", "url": url, "mime_type": media.mime_type,
                                 "sha256": media.sha256, "file_size": str(len(media.data)), "id": media.media_id})
    _record(fake, request, received, response.status_code, valid)
    return response


async def _media_download(fake: FakeGraph, request: Request) -> Response:
    """The short-lived media URL: the bytes, with the same bearer token; 404 once expired or unknown."""
    received = time.monotonic()
    media = fake.media_for_key(request.query_params.get("hash", ""))
    valid = media is not None and _media_token_valid(fake, _bearer(request), media.phone_number_id)
    if media is None:
        response: Response = PlainTextResponse("URL expired or unknown", status_code=404)
    elif not valid:
        response = _fault_response(invalid_token())
    else:
        response = Response(media.data, media_type=media.mime_type)
    _record(fake, request, received, response.status_code, valid)
    return response


async def _me(fake: FakeGraph, request: Request) -> Response:
    """``GET /{version}/me``: ``{id, name}`` for a registered token; error 190 otherwise."""
    received = time.monotonic()
    if fake.delay:
        await asyncio.sleep(fake.delay)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    known = bool(token) and fake.token_known(token)
    response = (JSONResponse({"id": "100000000000001", "name": "PyTake Test System User"}) if known
                else _fault_response(invalid_token()))
    headers = {name: "<redacted>" if name in _REDACTED else value for name, value in request.headers.items()}
    fake.record_request(RecordedRequest(
        method=request.method, path=request.url.path, query=request.url.query, headers=headers, json=None,
        at=received, status=response.status_code, token_valid=known,
    ))
    return response
