"""A client that stops reading is dropped (its connection closed by the server) while another client of the
same organization gets every event: over real sockets, with a small per-stream queue."""

from __future__ import annotations

import asyncio
import socket
from uuid import UUID

import httpx
import pytest
from asgi_lifespan import LifespanManager

from domain.events import EventType
from entrypoints.config import Settings
from entrypoints.http.app import create_app
from entrypoints.runtime import provide
from tests.e2e.events_support import API, listen, served
from tests.helpers import register

pytestmark = pytest.mark.e2e

EVENTS, PER_COMMIT, PAD = 1200, 25, "x" * 8000


async def test_a_client_that_stops_reading_is_dropped_and_never_holds_back_the_others(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str) -> None:
    admin = await register(client)
    org = UUID(admin.user["organization_id"])
    application = create_app(test_settings.model_copy(update={"events_queue_size": 60}), database_url=database_url)
    async with LifespanManager(application), served(application) as base:
        host, port = base.removeprefix("http://").split(":")
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.connect((host, int(port)))
        slow.sendall(f"GET {API}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin.access_token}\r\n"
                     "\r\n".encode())
        hub = await provide(application.state.container.event_hub)
        uow = await provide(application.state.container.uow)
        async with listen(base, token=admin.access_token) as fast:
            for _ in range(50):
                if hub.streams == 2:
                    break
                await asyncio.sleep(0.05)
            for start in range(0, EVENTS, PER_COMMIT):
                async with uow(org) as unit:
                    for n in range(start, start + PER_COMMIT):
                        unit.events.append(EventType.MESSAGE_STATUS, {"n": n, "pad": PAD})
                    await unit.commit()
                for _ in range(400):  # the fast client keeps up; the slow one never reads
                    if len(fast.seen) >= start + PER_COMMIT or fast.ended:
                        break
                    await asyncio.sleep(0.025)
                assert len(fast.seen) == start + PER_COMMIT and not fast.ended, (len(fast.seen), hub.dropped)
            assert [e.json()["n"] for e in fast.seen] == list(range(EVENTS))
            assert hub.dropped == 1 and hub.streams == 1  # the slow one only
        # the server closed the slow connection: what it had buffered, then the end of the stream
        slow.setblocking(False)
        loop = asyncio.get_running_loop()
        received = 0
        while True:
            chunk = await asyncio.wait_for(loop.sock_recv(slow, 65536), 10)
            if not chunk:
                break
            received += len(chunk)
        slow.close()
        assert 0 < received < EVENTS * len(PAD)
