"""Meta's signed webhook (``POST /api/v1/whatsapp/webhook``) served beside the framework, not through it.

Every WhatsApp message and status reaches PyTake here, up to several per message sent, and Meta retries a slow
answer. The delivery's own work is small (an HMAC, a SHA-256, one group-committed INSERT), so FastAPI's layers
cost most of it: six middleware layers, routing over every route, dependency solving (profiled with
``BENCH_PYSPY=1 python -m bench webhook_ingest --ack-only``: about three quarters of the event loop's busy time).
:class:`WebhookIngress` is the outermost ASGI layer: it answers this one path and method itself and hands every
other request to the application unchanged.

It keeps what the stack gives every request: the ``X-Request-ID`` (taken or made, bound into the log context, sent
back), the HTTP metrics under the route's template, the error shape with ``Retry-After`` on a 503, a 500 in the
error shape (logged) for the unexpected, and a client that hangs up mid-body logged at info (not an error: Meta
times out and sends again). The FastAPI route of the same path stays: it documents the endpoint in OpenAPI and
serves it when this layer is not installed (``accept_webhook`` is the one implementation both call).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from application.use_cases.whatsapp.ingest_webhook import IngestWebhook
from domain.errors import DomainError
from entrypoints.http.errors import domain_error_parts, error_body
from entrypoints.http.middleware import HTTP_LATENCY, HTTP_REQUESTS, new_request_id, valid_request_id

log = structlog.get_logger("pytake.http")

MAX_WEBHOOK_BYTES = 4 * 1024 * 1024
WEBHOOK_PATH = "/api/v1/whatsapp/webhook"

Answer = tuple[int, dict[str, Any], dict[str, str]]
_TOO_LARGE: Answer = (413, error_body(413, "Webhook body too large.", "payload_too_large"), {})


async def accept_webhook(use_case: IngestWebhook, body: bytes, signature: str | None) -> Answer:
    """Store one delivery: 200 ``received`` (stored) or ``duplicate`` (an identical body was stored before); a
    domain error (bad signature 401, database unavailable 503) in the error shape."""
    if len(body) > MAX_WEBHOOK_BYTES:
        return _TOO_LARGE
    try:
        event_id = await use_case.execute(body, signature)
    except DomainError as error:
        return domain_error_parts(error)
    return 200, {"status": "received" if event_id else "duplicate"}, {}


class _ClientGone(Exception):
    pass


class WebhookIngress:
    """Serves ``POST`` on the webhook path (with or without a trailing slash); passes everything else on."""

    def __init__(self, app: ASGIApp, *, use_case: Callable[[], IngestWebhook | Awaitable[IngestWebhook]]) -> None:
        self.app = app
        self._provide = use_case
        self._use_case: IngestWebhook | None = None
        self._paths = {WEBHOOK_PATH, WEBHOOK_PATH + "/"}
        self._metrics: dict[int, tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self._paths:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        signature = incoming_id = declared = None
        for name, value in scope["headers"]:
            if name == b"x-hub-signature-256":
                signature = value.decode("latin-1")
            elif name == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif name == b"content-length":
                declared = value
        request_id = incoming_id if incoming_id and valid_request_id(incoming_id) else new_request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        try:
            status = await self._serve(receive, send, request_id, signature, declared)
        except _ClientGone:
            status = 499  # nginx's name for it: nobody reads an answer
            log.info("client_disconnected", path=scope["path"], method="POST")
        finally:
            self._observe(status, time.perf_counter() - started)
            structlog.contextvars.clear_contextvars()

    async def _serve(self, receive: Receive, send: Send, request_id: str, signature: str | None,
                     declared: bytes | None) -> int:
        if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
            return await self._answer(send, request_id, _TOO_LARGE)
        body = await self._body(receive)
        if body is None:
            return await self._answer(send, request_id, _TOO_LARGE)
        try:
            answer = await accept_webhook(await self._ingest(), body, signature)
        except Exception as error:  # noqa: BLE001 - the error shape, as CatchAllMiddleware answers elsewhere
            log.exception("unhandled_error", path=WEBHOOK_PATH, method="POST", error_type=type(error).__name__)
            answer = (500, error_body(500, "An internal error occurred.", "internal_error"), {})
        return await self._answer(send, request_id, answer)

    async def _ingest(self) -> IngestWebhook:
        if self._use_case is None:
            provided = self._provide()
            self._use_case = provided if isinstance(provided, IngestWebhook) else await provided
        return self._use_case

    @staticmethod
    async def _body(receive: Receive) -> bytes | None:
        """The whole body, or None past MAX_WEBHOOK_BYTES (a chunked body has no Content-Length to check)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > MAX_WEBHOOK_BYTES:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    @staticmethod
    async def _answer(send: Send, request_id: str, answer: Answer) -> int:
        status, payload, extra = answer
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"x-request-id", request_id.encode()),
                   *((name.lower().encode(), value.encode()) for name, value in extra.items())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status

    def _observe(self, status: int, seconds: float) -> None:
        metrics = self._metrics.get(status)
        if metrics is None:  # bound once per status: labels() looks its child up under a lock
            labels = ("POST", WEBHOOK_PATH, str(status))
            metrics = self._metrics[status] = (HTTP_LATENCY.labels(*labels), HTTP_REQUESTS.labels(*labels))
        metrics[0].observe(seconds)
        metrics[1].inc()
