"""Request-level dependencies: the authenticated actor, pagination, the client address."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from application.authorization import Actor
from application.use_cases.auth.authenticate import AuthenticateCommand, AuthenticateRequest
from domain.errors import InvalidValue, Unauthenticated
from entrypoints.http.rendering import ListRenderer

bearer = HTTPBearer(auto_error=False, description="Access token from /auth/login")


class MissingToken(Unauthenticated):
    code = "not_authenticated"
    default_message = "Authentication required: send 'Authorization: Bearer <access_token>'."


def _uuid_header(schema: dict[str, Any]) -> None:
    """Documented as what it must be when sent, a UUID (not FastAPI's `string | null`: a header is never null)."""
    schema.pop("anyOf", None)
    schema.update(type="string", format="uuid")


def provided(name: str) -> Any:
    """``Depends`` on the application container's provider ``name`` without a thread hop.

    ``Depends(Provide[...])`` makes FastAPI call dependency-injector's marker, a plain function, in its thread
    pool: two thread round trips per authenticated request, the most expensive step of a cheap read after the
    database's. This resolves the provider on the event loop, from the container of the application serving
    the request."""

    async def resolve(request: Request) -> Any:
        value = getattr(request.app.state.container, name)()
        return await value if inspect.isawaitable(value) else value  # a provider over an async resource

    resolve.__name__ = f"provide_{name}"
    return Depends(resolve)


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    x_organization_id: Annotated[str | None, Header(description="super_admin only: act in this organization",
                                                    json_schema_extra=_uuid_header)] = None,
    authenticate: AuthenticateRequest = provided("authenticate"),
) -> Actor:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise MissingToken()
    acting: UUID | None = None
    if x_organization_id is not None:  # sent, even empty: it must name an organization
        try:
            acting = UUID(x_organization_id)
        except ValueError:
            raise InvalidValue("X-Organization-ID must be an organization id (UUID).",
                               field="header:X-Organization-ID") from None
    actor = await authenticate.execute(AuthenticateCommand(token=credentials.credentials,
                                                           acting_organization_id=acting))
    request.state.actor = actor
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


MAX_OFFSET = 1_000_000_000
"""Far past any real listing, and well inside PostgreSQL's bigint OFFSET (a larger one was a 500)."""


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (1..200)")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip (0..1000000000)")] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageParams = Annotated[Page, Depends(page_params)]


TOTAL_HEADER = "X-Total-Count"
ESTIMATED_HEADER = "X-Total-Count-Estimated"


def set_total(response: Response, total: int) -> None:
    """``X-Total-Count``, and ``X-Total-Count-Estimated: true`` when it is the database's estimate (a count past
    LIST_COUNT_EXACT_LIMIT items), else ``false``."""
    response.headers[TOTAL_HEADER] = str(int(total))
    response.headers[ESTIMATED_HEADER] = "true" if getattr(total, "estimated", False) else "false"


def json_page(renderer: ListRenderer, items: Sequence[Any], total: int) -> Response:
    """A list answer rendered in one pass (``ListRenderer``: straight from the items' attributes) with its total
    headers; the route keeps ``response_model`` for OpenAPI."""
    response = Response(content=renderer.render(items), media_type="application/json")
    set_total(response, total)
    return response


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
