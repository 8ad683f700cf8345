"""Request ids (bound into every log line and carried into queued jobs) and HTTP metrics."""

from __future__ import annotations

import itertools
import json
import os
import re
import time

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("pytake.http")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes and replicas (32 hex characters, as a UUID's): a random prefix drawn
    once per process and a counter."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def valid_request_id(candidate: str) -> bool:
    """A client's X-Request-ID is kept when it is 1-128 characters of ``A-Za-z0-9._:-`` (safe in logs)."""
    return _VALID_ID.match(candidate) is not None

HTTP_LATENCY = Histogram("pytake_http_request_duration_seconds", "HTTP request latency by route",
                         ["method", "route", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
HTTP_REQUESTS = Counter("pytake_http_requests_total", "HTTP requests by route and status",
                        ["method", "route", "status"])


class CatchAllMiddleware:
    """Innermost: an unexpected exception becomes the 500 error shape here, inside CORS, so browsers can read it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = {"sent": False}

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["sent"] = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"), method=scope.get("method"))
            if started["sent"]:
                raise
            body = json.dumps({"detail": "An internal error occurred.", "status_code": 500,
                               "error_code": "internal_error"}).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Pure ASGI middleware: X-Request-ID in and out, structlog context, latency by route template."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if valid_request_id(incoming) else new_request_id()
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            effective = (scope.get("fastapi") or {}).get("effective_route_context")
            route = effective or scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "unmatched"
            labels = (scope["method"], template, str(status_holder["status"]))
            HTTP_LATENCY.labels(*labels).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(*labels).inc()
            structlog.contextvars.clear_contextvars()
