"""The FastAPI application factory (REST API and webhook ingress under /api/v1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from application.use_cases.events.hub import EventHub
from entrypoints.config import Settings, load_settings
from entrypoints.container import Container
from entrypoints.http import routers
from entrypoints.http.cors import ErrorShapeCORSMiddleware
from entrypoints.http.errors import install_error_handlers
from entrypoints.http.middleware import CatchAllMiddleware, RequestContextMiddleware
from entrypoints.http.openapi import install_openapi
from entrypoints.http.routers import (
    auth,
    automations,
    contact_transfer,
    contacts,
    conversations,
    events,
    flows,
    health,
    operations,
    secrets,
    users,
    whatsapp,
)
from entrypoints.http.sse import end_streams_on_server_exit
from entrypoints.http.trailing_slash import TrailingSlashMiddleware
from entrypoints.http.webhook_ingress import WebhookIngress
from entrypoints.logging import configure_logging
from entrypoints.runtime import provide, resolve_database_url

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"

DESCRIPTION = """Multi-tenant WhatsApp Business automation backend.

Authenticate with `POST /api/v1/auth/login` (or register), then click **Authorize** and paste the
`access_token`. Every error has the shape `{detail, status_code, error_code}`; lists return a JSON array and
the total in the `X-Total-Count` header: exact up to `LIST_COUNT_EXACT_LIMIT` (10,000) items, past it the
database's estimate, and then `X-Total-Count-Estimated: true`.
"""


def wire(container: Container) -> None:
    """Point the route modules at this container (dependency-injector wiring is process-wide: the last
    application built in a process wins, which only matters when one process builds several)."""
    from entrypoints.http import deps

    container.wire(packages=[routers], warn_unresolved=True)
    container.wire(modules=[deps], warn_unresolved=True)


def build_container(settings: Settings, database_url: str) -> Container:
    container = Container(settings=settings, database_url=database_url)
    wire(container)
    return container


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    url = database_url or resolve_database_url(settings)
    container = build_container(settings, url)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await container.init_resources()  # type: ignore[misc]
        try:
            await container.check_vault_seal()  # refuse to serve when a stored row needs an unloaded master key
            await container.hasher().dummy_hash()  # login's unknown-email path then costs one verify, no hash
        except BaseException:
            await container.shutdown_resources()  # type: ignore[misc]
            raise
        hub: EventHub = await provide(container.event_hub)
        fan_out = asyncio.create_task(hub.run())
        access = await provide(container.access_check)
        stop_listening = asyncio.Event()  # access facts are remembered while it listens for NOTIFY pytake_auth
        auth_listener = asyncio.create_task(access.run(stop_listening))
        undo = end_streams_on_server_exit(hub.close)  # uvicorn waits for open streams before this shutdown
        try:
            yield
        finally:
            undo()
            hub.close()
            stop_listening.set()
            await asyncio.gather(fan_out, auth_listener, return_exceptions=True)
            await container.shutdown_resources()  # type: ignore[misc]

    app = FastAPIOffline(
        title="PyTake API", version=API_VERSION, description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json", docs_url=f"{API_PREFIX}/docs", redoc_url=f"{API_PREFIX}/redoc",
        static_url=f"{API_PREFIX}/static-docs", swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.settings = settings
    app.router.redirect_slashes = False  # TrailingSlashMiddleware serves both forms instead
    app.add_middleware(TrailingSlashMiddleware, router=app.router)
    app.add_middleware(CatchAllMiddleware)  # unexpected errors become a 500 inside CORS
    exposed = ["X-Total-Count", "X-Total-Count-Estimated", "X-Next-Cursor", "Retry-After", "X-Request-ID",
               "Deprecated", "Sunset"]
    app.add_middleware(ErrorShapeCORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                       allow_methods=["*"], allow_headers=["*"], expose_headers=exposed)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(WebhookIngress, use_case=container.ingest_webhook)  # outermost: Meta's hot path
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(operations.metrics_router)
    app.include_router(operations.admin_router, prefix=API_PREFIX)
    # contact_transfer before contacts: /contacts/imports and /contacts/export are not a /contacts/{contact_id}
    for module in (auth, users, contact_transfer, contacts, whatsapp, secrets, flows, automations, conversations,
                   events):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(flows.handoff_router, prefix=API_PREFIX)
    install_openapi(app)
    return app
