"""Every route answers with and without a trailing slash, the same, and never with a redirect.

Starlette redirects ``/contacts/`` to ``/contacts`` with an absolute ``Location`` (307), which breaks browsers
behind the frontend's rewrite proxy. This ASGI middleware rewrites a path no route knows to its other form
(slash added or removed) when a route knows that one, before routing; OpenAPI keeps one canonical path per
operation (the contract's own: ``/secrets/`` with a slash, the others without)."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


class TrailingSlashMiddleware:
    def __init__(self, app: ASGIApp, router: Router) -> None:
        self.app, self._router = app, router
        self._known: re.Pattern[str] | None = None

    def _known_paths(self) -> re.Pattern[str]:
        """Every route's path pattern in one regex, built on first use (routes are added after middleware)."""
        if self._known is None:
            patterns = [_NAMED_GROUP.sub("(?:", regex.pattern) for context in iter_route_contexts(self._router.routes)
                        if (regex := getattr(context, "path_regex", None)) is not None]
            self._known = re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)")
        return self._known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            known = self._known_paths()
            if path != "/" and not known.match(path):
                other = path[:-1] if path.endswith("/") else path + "/"
                if known.match(other):
                    raw: bytes = scope.get("raw_path") or path.encode()
                    scope = {**scope, "path": other, "raw_path": raw[:-1] if raw.endswith(b"/") else raw + b"/"}
        await self.app(scope, receive, send)
