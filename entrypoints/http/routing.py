"""Routes marked deprecated answer with 'Deprecated: true' (and 'Sunset' when a date is set)."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.convertors import Convertor, register_url_convertor

SUNSET_KEY = "x-sunset"


class DeprecationAwareRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not self.deprecated:
            return handler
        sunset = (self.openapi_extra or {}).get(SUNSET_KEY)

        async def deprecated_handler(request: Request) -> Response:
            response = await handler(request)
            response.headers["Deprecated"] = "true"
            if sunset:
                response.headers["Sunset"] = str(sunset)
            return response

        return deprecated_handler


class _SegmentExcept(Convertor[str]):
    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return str(value)


def id_segment(name: str, *literals: str) -> str:
    """A path converter named ``name`` for an id segment that is never one of ``literals``, the literal sibling
    paths other routes own (``/contacts/{contact_id:<name>}`` beside ``/contacts/export``): ``PUT /contacts/export``
    is then a 405 with ``Allow: GET`` instead of an update of a contact whose id is not a UUID (422). The OpenAPI
    path keeps its plain ``{contact_id}``; any other segment is still validated by the route (422 when not a UUID)."""
    regex = "(?!(?:" + "|".join(re.escape(w) for w in literals) + ")(?:/|$))[^/]+"
    register_url_convertor(name, type(f"Segment_{name}", (_SegmentExcept,), {"regex": regex})())
    return name
