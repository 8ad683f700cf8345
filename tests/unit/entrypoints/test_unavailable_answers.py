"""A 503 tells the client when to come back: the provider's own hint when it gave one, else five seconds."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from adapters.whatsapp.errors import graph_error
from application.ports.uow import DatabaseUnavailable
from entrypoints.http.errors import install_error_handlers

pytestmark = pytest.mark.unit


def app() -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)

    @application.get("/database")
    async def database() -> None:
        raise DatabaseUnavailable()

    @application.get("/graph")
    async def graph() -> None:
        raise graph_error(400, 131056, title="pair rate limit")  # Meta's pair rate: 4^attempt s, 1 s at first

    return application


async def test_503_carries_retry_after_and_the_error_shape() -> None:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        database, graph = await client.get("/database"), await client.get("/graph")
    assert database.status_code == graph.status_code == 503
    assert database.json() == {"detail": "The database is unavailable; try again shortly.", "status_code": 503,
                               "error_code": "database_unavailable"}
    assert database.headers["retry-after"] == "5"
    assert graph.json()["error_code"] == "whatsapp_rate_limited" and graph.headers["retry-after"] == "1"
