"""A real API process: heartbeats on an idle stream, streams that end cleanly when the server stops (it does not
wait for them), and a client that reconnects to the restarted server with Last-Event-ID and gets what it missed
(written meanwhile through another replica: the in-process test app on the same database)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.events_support import API, listen, ticket
from tests.e2e.whatsapp_support import ManagedProcess, process_env
from tests.helpers import register

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess(ManagedProcess):
    def __init__(self, settings: Settings, database_url: str, log: Path, port: int) -> None:
        super().__init__(["-m", "uvicorn", "entrypoints.http.app:create_app", "--factory", "--host", "127.0.0.1",
                          "--port", str(port)],
                         process_env(settings, database_url, EVENTS_HEARTBEAT_SECONDS="0.5"), log)
        self.base = f"http://127.0.0.1:{port}"

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                assert self.alive(), self.tail()
                try:
                    if (await client.get(f"{self.base}/ready", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)
        raise AssertionError(self.tail())


async def rekey(client: httpx.AsyncClient, headers: dict[str, str], secret_id: str) -> None:
    response = await client.post(f"{API}/secrets/{secret_id}/rotate", headers=headers, json={})
    assert response.status_code == 200, response.text


async def test_reconnect_across_an_api_restart_with_last_event_id(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str, tmp_path: Path) -> None:
    api = ApiProcess(test_settings, database_url, tmp_path / "api.log", _free_port()).start()
    try:
        await api.ready()
        async with httpx.AsyncClient(base_url=api.base) as remote:
            admin = await register(remote)
            secret = await remote.post(f"{API}/secrets/", headers=admin.headers,
                                       json={"key": "API_KEY", "value": "v-123456"})
            assert secret.status_code == 201, secret.text
            secret_id = secret.json()["id"]
            # an idle stream gets heartbeat comments (0.5 s here, 15 s by default)
            async with remote.stream("GET", f"{API}/events", headers=admin.headers) as raw:
                lines: list[str] = []
                started = time.monotonic()
                async for line in raw.aiter_lines():
                    lines.append(line)
                    if line == ": heartbeat":
                        break
                assert lines[0].startswith("retry:") and time.monotonic() - started < 5
            async with listen(api.base, ticket=await ticket(remote, admin.headers)) as stream:
                await rekey(remote, admin.headers, secret_id)
                last = await stream.event("secret.rotated", version=2)
                stopping = time.monotonic()
                # SIGTERM: the open stream ends at once and does not hold the server (uvicorn re-raises the signal
                # once it has shut down, hence -15)
                assert api.stop() in (0, -15)
                assert time.monotonic() - stopping < 5, api.tail()
                for _ in range(40):
                    if stream.ended:
                        break
                    await asyncio.sleep(0.05)
                assert stream.ended  # the server ended the response; the client saw a clean end of stream
        log = api.tail(50_000)
        assert "Application shutdown complete" in log and "Waiting for connections to close" not in log

        for _ in range(3):  # while the process is down, through another replica
            await rekey(client, admin.headers, secret_id)

        api.start()
        await api.ready()
        async with httpx.AsyncClient(base_url=api.base) as remote:
            async with listen(api.base, ticket=await ticket(remote, admin.headers), last_event_id=last["id"]) as again:
                await again.wait_for(lambda e: len(again.of_type("secret.rotated")) == 3)
                assert [e["version"] for e in again.of_type("secret.rotated")] == [3, 4, 5]
                await rekey(client, admin.headers, secret_id)  # the other replica's commit reaches this process
                await again.event("secret.rotated", version=6)
                assert again.ids == sorted(again.ids) and min(again.ids) > last["id"]
    finally:
        api.stop()
