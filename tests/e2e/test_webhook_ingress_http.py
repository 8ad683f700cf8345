"""Meta's webhook over a real socket (uvicorn, the test application): the ingress layer in front of the
framework stores each delivery once in PostgreSQL, answers with a request id, and a sender that hangs up
mid-body is neither stored nor an error."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from entrypoints.http import webhook_ingress
from tests.e2e.events_support import served
from tests.e2e.whatsapp_support import API, count, random_wa_id, signed
from tests.fake_graph import builders

pytestmark = pytest.mark.e2e


async def test_deliveries_over_http_are_stored_once_with_request_ids(app: FastAPI, database_url: str) -> None:
    bodies = [signed(builders.inbound_text("106540352242922", random_wa_id(), f"oi {i}")) for i in range(20)]
    async with served(app) as base, httpx.AsyncClient(base_url=base) as client:
        first = await asyncio.gather(*(client.post(f"{API}/whatsapp/webhook", content=body, headers=headers)
                                       for body, headers in bodies))
        again = await client.post(f"{API}/whatsapp/webhook/", content=bodies[0][0],
                                  headers={**bodies[0][1], "X-Request-ID": "meta.retry-1"})
    assert {(r.status_code, r.json()["status"]) for r in first} == {(200, "received")}
    assert len({r.headers["x-request-id"] for r in first}) == 20
    assert (again.status_code, again.json(), again.headers["x-request-id"]) == (
        200, {"status": "duplicate"}, "meta.retry-1")
    shas = [hashlib.sha256(body).hexdigest() for body, _ in bodies]
    assert await count(database_url, "SELECT count(*) FROM webhook_events WHERE body_sha256 = ANY($1::text[])",
                       shas) == 20


async def test_a_sender_hanging_up_mid_body_stores_nothing_and_logs_no_error(
        app: FastAPI, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    logs: list[tuple[str, str]] = []

    class Recording:
        def __getattr__(self, level: str) -> Any:
            return lambda event, **_: logs.append((level, event))

    monkeypatch.setattr(webhook_ingress, "log", Recording())
    body, headers = signed(builders.inbound_text("106540352242922", random_wa_id(), "cut short"))
    head = (f"POST {API}/whatsapp/webhook HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {headers['X-Hub-Signature-256']}\r\nContent-Length: {len(body)}\r\n\r\n")
    async with served(app) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head.encode() + body[: len(body) // 2])
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.close()  # Meta timed out
        await asyncio.sleep(0.3)
        assert await reader.read() == b""  # nothing was answered
    assert logs == [("info", "client_disconnected")]
    assert await count(database_url, "SELECT count(*) FROM webhook_events WHERE body_sha256 = $1",
                       hashlib.sha256(body).hexdigest()) == 0
