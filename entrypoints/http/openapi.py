"""The OpenAPI document says what the error handlers really send.

- FastAPI documents a default 422 ({detail: [ValidationError]}) on every operation with parameters that does not
  list 422 itself; our handler answers {detail, status_code, error_code, errors}, so that default is replaced by
  `ValidationErrorResponse` everywhere and FastAPI's own validation schemas are dropped.
- Every operation of an authenticated user takes the X-Organization-ID header (deps.current_actor): a user other
  than a super_admin who sends it gets a 403, a super_admin naming an unknown organization a 404."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from entrypoints.http.errors import ErrorResponse, ValidationErrorResponse

_COMPONENTS = "#/components/schemas/"
_FASTAPI_DEFAULTS = ("HTTPValidationError", "ValidationError")


def _with_our_validation_error(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    ours = _COMPONENTS + ValidationErrorResponse.__name__
    replaced = False
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            response: dict[str, Any] = operation.get("responses", {}).get("422") or {}
            content: dict[str, Any] = response.get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") == _COMPONENTS + "HTTPValidationError":
                response["description"] = "validation error"
                content["schema"] = {"$ref": ours}
                replaced = True
    if replaced and ValidationErrorResponse.__name__ not in schemas:
        generated = ValidationErrorResponse.model_json_schema(ref_template=_COMPONENTS + "{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas[ValidationErrorResponse.__name__] = generated
    rest = json.dumps([document.get("paths"), {k: v for k, v in schemas.items() if k not in _FASTAPI_DEFAULTS}])
    if not any(f'"{_COMPONENTS}{name}"' in rest for name in _FASTAPI_DEFAULTS):  # nothing else refers to them
        for name in _FASTAPI_DEFAULTS:
            schemas.pop(name, None)
    return document


_ACTING_HEADER = "x-organization-id"
_ACTING_RESPONSES = {"403": "permission denied (X-Organization-ID is for super_admins only)",
                     "404": "not found (X-Organization-ID names no organization)"}


def _with_acting_header_responses(document: dict[str, Any]) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": _COMPONENTS + ErrorResponse.__name__}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or not any(
                    p.get("in") == "header" and p.get("name", "").lower() == _ACTING_HEADER
                    for p in operation.get("parameters", [])):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _ACTING_RESPONSES.items():
                responses.setdefault(status, {"description": description, "content": error})
    return document


_TOTAL_HEADERS = {
    "X-Total-Count": {"description": "How many items the list has in all (every page): exact up to "
                                     "LIST_COUNT_EXACT_LIMIT (10,000 by default) items, past it the database's "
                                     "estimate", "schema": {"type": "integer", "minimum": 0}},
    "X-Total-Count-Estimated": {"description": "'true' when X-Total-Count is an estimate (the list has more than "
                                               "LIST_COUNT_EXACT_LIMIT items), 'false' when it is exact",
                                "schema": {"type": "string", "enum": ["true", "false"]}},
}


def _with_total_headers(document: dict[str, Any]) -> dict[str, Any]:
    """Every paginated list (a GET answering a JSON array) documents its total headers."""
    for operations in document.get("paths", {}).values():
        operation = operations.get("get")
        if not isinstance(operation, dict):
            continue
        ok = operation.get("responses", {}).get("200") or {}
        schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("type") == "array":
            ok.setdefault("headers", {}).update(_TOTAL_HEADERS)
    return document


def install_openapi(app: FastAPI) -> None:
    default = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_total_headers(
                _with_acting_header_responses(_with_our_validation_error(default())))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
