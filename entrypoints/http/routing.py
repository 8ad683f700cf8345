"""Routes marked deprecated answer with 'Deprecated: true' (and 'Sunset' when a date is set)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

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
