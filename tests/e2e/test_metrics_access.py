"""GET /metrics behind METRICS_TOKEN, with the database gauges cached per interval (an application of its own,
with a token and a long cache interval)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from entrypoints.config import Settings
from tests.conftest import app_with
from tests.e2e.support import bearer, fetch, http_client
from tests.helpers import assert_error_shape, register

pytestmark = pytest.mark.e2e

TOKEN = "scrape-me-0123456789-abcdef"


@pytest.fixture(scope="module")
async def guarded(test_settings: Settings, database_url: str, app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app_with(test_settings, database_url, app, metrics_token=SecretStr(TOKEN),
                        metrics_cache_seconds=300.0) as application:
        yield application


def _gauge(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def test_a_scrape_without_the_token_is_refused_in_the_error_shape(guarded: FastAPI) -> None:
    async with http_client(guarded, ip="127.0.0.1") as client:  # with a token set, loopback needs it too
        for headers in ({}, bearer("wrong-token"), {"Authorization": f"Basic {TOKEN}"}):
            response = await client.get("/metrics", headers=headers)
            body = assert_error_shape(response, 401, "metrics_unauthorized")
            assert response.headers["WWW-Authenticate"] == "Bearer" and TOKEN not in str(body)
            assert "pytake_" not in response.text


async def test_with_the_token_the_gauges_are_served_and_cached_per_interval(guarded: FastAPI,
                                                                            database_url: str) -> None:
    async with http_client(guarded) as client:
        first = await client.get("/metrics", headers=bearer(TOKEN))
        assert first.status_code == 200 and first.headers["content-type"].startswith("text/plain")
        pending = _gauge(first.text, "pytake_webhooks_pending")
        # a new stored webhook the next query would count; a scrape within the interval does not query again
        (row,) = await fetch(database_url, "INSERT INTO webhook_events (id, body_sha256, body, received_at, status) "
                             "VALUES (gen_random_uuid(), md5(random()::text), '\\x7b7d', now(), 'pending') "
                             "RETURNING id")
        try:
            second = await client.get("/metrics", headers=bearer(TOKEN))
        finally:
            await fetch(database_url, "DELETE FROM webhook_events WHERE id = $1", row["id"])
    assert second.status_code == 200
    assert _gauge(second.text, "pytake_webhooks_pending") == pending


async def test_without_a_token_only_loopback_clients_may_scrape(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await register(client)
    assert (await client.get("/metrics")).status_code == 200  # ENV=test, no METRICS_TOKEN, from 127.0.0.1
    async with http_client(app) as elsewhere:  # another address; a user's access token is no metrics token
        assert_error_shape(await elsewhere.get("/metrics", headers=account.headers), 401, "metrics_unauthorized")
