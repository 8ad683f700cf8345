"""Request ids travel from the HTTP request into the logs and into the jobs it queues."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest

from tests.conftest import _plain
from tests.helpers import register

pytestmark = pytest.mark.e2e


async def test_request_id_is_echoed_generated_and_carried_into_queued_jobs(client: httpx.AsyncClient,
                                                                          database_url: str) -> None:
    generated = await client.get("/health")
    assert len(generated.headers["x-request-id"]) == 32
    account = await register(client)
    request_id = "req-observability-123"
    response = await client.post("/api/v1/auth/forgot-password", json={"email": account.email},
                                 headers={"X-Request-ID": request_id})
    assert response.headers["x-request-id"] == request_id
    connection = await asyncpg.connect(_plain(database_url))
    try:
        rows = await connection.fetch("SELECT headers, payload FROM pgqueuer WHERE entrypoint = 'send_email'")
    finally:
        await connection.close()
    mine = [json.loads(r["headers"]) for r in rows if account.email in r["payload"].decode()]
    assert mine and mine[-1]["request_id"] == request_id


async def test_unsafe_request_ids_are_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"
    assert len(response.headers["x-request-id"]) == 32
