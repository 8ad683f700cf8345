"""Every error leaves the API in one shape: {detail, status_code, error_code} (+ errors on 422)."""

from __future__ import annotations

import math
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from domain.errors import (
    Conflict,
    DomainError,
    InvalidValue,
    NotFound,
    PermissionDenied,
    RuleViolation,
    Throttled,
    TooLarge,
    Unauthenticated,
    Unavailable,
)

log = structlog.get_logger("pytake.http")

STATUS_BY_CATEGORY: list[tuple[type[DomainError], int]] = [
    (RuleViolation, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooLarge, 413),
    (InvalidValue, 422),
    (Throttled, 429),
    (Unavailable, 503),
]

UNAVAILABLE_RETRY_AFTER_SECONDS = 5
"""The Retry-After hint of a 503: clients (and Meta, for webhooks) come back after a database or provider blip."""

_HTTP_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
               415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests",
               500: "internal_error", 503: "service_unavailable"}


class ErrorResponse(BaseModel):
    detail: str
    status_code: int
    error_code: str


class ValidationErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(ErrorResponse):
    errors: list[ValidationErrorItem]


def error_body(status: int, detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "status_code": status, "error_code": code, **extra}


def status_for(error: DomainError) -> int:
    for category, status in STATUS_BY_CATEGORY:
        if isinstance(error, category):
            return status
    return 500


def domain_error_parts(exc: DomainError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """A domain error's answer: status, body in the error shape, headers (Retry-After, WWW-Authenticate)."""
    status = status_for(exc)
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    elif isinstance(exc, Unavailable):  # a provider's own hint (Graph rate limits carry one) wins
        hint = getattr(exc, "retry_after_seconds", None)
        headers["Retry-After"] = str(math.ceil(hint) if hint else UNAVAILABLE_RETRY_AFTER_SECONDS)
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if exc.details is not None:
        extra["errors"] = exc.details
    elif status == 422:
        loc = exc.field.split(":") if exc.field and ":" in exc.field else ["body", exc.field] if exc.field else ["body"]
        extra["errors"] = [{"loc": loc, "msg": exc.message,
                            "type": exc.code}]
    detail = exc.message if status != 500 else "An internal error occurred."
    if status == 500:
        log.error("domain_error.internal", error_code=exc.code)
    return status, error_body(status, detail, exc.code, **extra), headers


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    status, body, headers = domain_error_parts(exc)
    return JSONResponse(body, status_code=status, headers=headers)


def _clean_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic echoes the submitted input (passwords, secret values): keep only loc, msg and type."""
    cleaned = []
    for error in exc.errors():
        msg = str(error.get("msg", "Invalid value"))
        if error.get("type") in {"value_error", "assertion_error"}:
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        cleaned.append({"loc": [str(p) if not isinstance(p, int) else p for p in error.get("loc", ())],
                        "msg": msg, "type": str(error.get("type", "value_error"))})
    return cleaned


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _clean_validation_errors(exc)
    detail = "Request validation failed" + (
        f": {'.'.join(str(p) for p in errors[0]['loc'])}: {errors[0]['msg']}" if errors else ".")
    return JSONResponse(error_body(422, detail, "validation_error", errors=errors), status_code=422)


_BODY_NOT_PARSED = "There was an error parsing the body"  # FastAPI: a body that is not even text (bad UTF-8)
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> str:
    """Every method of the target resource (RFC 9110 §15.5.6), not only those of the one route Starlette tried:
    FastAPI keeps GET /contacts and POST /contacts as two routes."""
    routes = getattr(request.app, "routes", [])
    allowed = [method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)]
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    headers = dict(getattr(exc, "headers", None) or {})
    if status == 400 and detail == _BODY_NOT_PARSED:  # the same answer as a body that is not valid JSON
        return JSONResponse(error_body(422, "Request validation failed: body: the body is not valid JSON.",
                                       "validation_error", errors=[{"loc": ["body"], "msg": "Invalid JSON",
                                                                    "type": "json_invalid"}]), status_code=422)
    if status == 404 and detail == "Not Found":
        detail = "The requested resource does not exist."
    if status == 405:
        detail = "Method not allowed for this resource."
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return JSONResponse(error_body(status, detail, _HTTP_CODES.get(status, "http_error")), status_code=status,
                        headers=headers or None)


async def _client_gone(request: Request, _: Exception) -> JSONResponse:
    """The client hung up before its request was read (Meta times out a slow webhook and sends it again):
    not a server error, and nobody reads the answer."""
    log.info("client_disconnected", path=request.url.path, method=request.method)
    return JSONResponse(error_body(400, "The client disconnected.", "client_disconnected"), status_code=400)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path, method=request.method, error_type=type(exc).__name__)
    return JSONResponse(error_body(500, "An internal error occurred.", "internal_error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of a route's error responses."""
    docs: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationErrorResponse if status == 422 else ErrorResponse
        docs[status] = {"model": model, "description": _HTTP_CODES.get(status, "error").replace("_", " ")}
    return docs


def json_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """:func:`error_responses` for a route whose own answer is not JSON (a CSV stream): FastAPI would document its
    errors in the route's media type, so their ``application/json`` content is spelled out (the schemas are
    components every other route already brings in)."""
    docs: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        model = ValidationErrorResponse if status == 422 else ErrorResponse
        docs[status] = {"description": _HTTP_CODES.get(status, "error").replace("_", " "), "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    return docs
