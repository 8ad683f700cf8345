"""CORS for the configured frontend origins; a refused preflight answers in the error shape (Starlette answers a
plain-text 400)."""

from __future__ import annotations

from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.responses import Response

from entrypoints.http.errors import error_body

_STARLETTE_PREFIX = "Disallowed CORS "


class ErrorShapeCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace").removeprefix(_STARLETTE_PREFIX)
        headers = {k: v for k, v in response.headers.items() if k.lower() not in {"content-type", "content-length"}}
        body = error_body(400, f"CORS preflight refused: {refused} not allowed.", "cors_preflight_refused")
        return JSONResponse(body, status_code=400, headers=headers)
