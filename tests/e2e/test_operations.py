"""Operators: Prometheus metrics and the dead-letter listing (super_admin only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from tests.conftest import _plain
from tests.helpers import assert_error_shape, login, register, unique_email

pytestmark = pytest.mark.e2e


async def test_metrics_expose_http_latency_queue_depth_and_webhook_lag(client: httpx.AsyncClient) -> None:
    account = await register(client)
    await client.get("/api/v1/contacts", headers=account.headers)
    await client.post("/api/v1/auth/forgot-password", json={"email": account.email})
    response = await client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'pytake_http_request_duration_seconds_count{method="GET",route="/api/v1/contacts",status="200"}' in text
    assert 'pytake_queue_jobs{entrypoint="send_email",status="queued"}' in text
    assert "pytake_webhook_lag_seconds" in text and "pytake_dead_letters" in text


async def test_dead_letters_are_listed_for_super_admins_only(client: httpx.AsyncClient, database_url: str) -> None:
    tenant = await register(client)
    assert_error_shape(await client.get("/api/v1/admin/dead-letters", headers=tenant.headers), 403)
    email = unique_email("ops")
    connection = await asyncpg.connect(_plain(database_url))
    event_id = uuid.uuid4()
    try:
        await connection.execute("UPDATE users SET role = 'super_admin' WHERE id = $1",
                                 uuid.UUID(tenant.user["id"]))
        await connection.execute(
            "INSERT INTO webhook_events (id, body_sha256, body, received_at, status, attempts, last_error)"
            " VALUES ($1, $2, $3, $4, 'dead', 8, 'KeyError: entry')", event_id, uuid.uuid4().hex, b"{}",
            datetime.now(UTC))
    finally:
        await connection.close()
    del email
    operator = await login(client, tenant.email)
    response = await client.get("/api/v1/admin/dead-letters", headers=operator.headers, params={"limit": 200})
    assert response.status_code == 200
    mine = [d for d in response.json() if d["id"] == str(event_id)]
    assert mine == [{"kind": "webhook", "id": str(event_id), "entrypoint": "process_webhook", "attempts": 8,
                     "failed_at": None, "error": "KeyError: entry"}]
    assert int(response.headers["X-Total-Count"]) >= 1
