"""At most once across a crash: the real worker process is SIGKILLed after the Graph API accepted a send and
before the worker saw the answer; a new worker process never sends that message again, and the status
webhook (which echoes our message id as ``biz_opaque_callback_data``) reconciles it.

The worker runs as ``python -m entrypoints.worker.main`` with its settings in the environment, against the
session's database and a fake Graph API of this module whose answers can be held back (the fake records
and accepts the send, then the response waits): exactly "Meta accepted it, we never heard back".
WORKER_HEARTBEAT_SECONDS (the leases' length) is lowered to 3 s: the test waits longer than any lease to show
that nothing the dead worker claimed is ever sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.config import Settings, load_settings
from entrypoints.http.app import create_app
from tests.conftest import APP_SECRET, VERIFY_TOKEN
from tests.e2e.whatsapp_support import (
    WorkerProcess,
    count,
    deliver,
    fetch,
    get_message,
    org_with_number,
    random_wa_id,
    requests_of,
    send_template,
    sends_of,
    wait_processed,
    wait_until,
)
from tests.fake_graph import builders
from tests.fake_graph.app import create_app as create_fake_graph_app
from tests.fake_graph.server import ServedApp
from tests.fake_graph.state import FakeGraph

pytestmark = pytest.mark.integration

HEARTBEAT_SECONDS = 3
HEARTBEAT = {"WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}


class HoldResponses:
    """ASGI middleware: the wrapped app runs to completion (the fake records and accepts the send), then the
    start of its response is held back ``hold`` seconds."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.hold = app, 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hold = self.hold

        async def held(message: Message) -> None:
            if message["type"] == "http.response.start" and hold:
                await asyncio.sleep(hold)
            await send(message)

        await self.app(scope, receive, held)


@dataclass
class HeldGraph:
    fake: FakeGraph
    gate: HoldResponses
    base_url: str


@pytest.fixture(scope="module")
def held_graph() -> Iterator[HeldGraph]:
    fake = FakeGraph()
    gate = HoldResponses(create_fake_graph_app(fake))
    with ServedApp.running(gate) as served:
        yield HeldGraph(fake, gate, served.base_url)


@pytest.fixture(scope="module")
def process_settings(tmp_path_factory: pytest.TempPathFactory, held_graph: HeldGraph) -> Settings:
    return load_settings(env="test", data_dir=tmp_path_factory.mktemp("worker-process"), log_json=True,
                         log_level="WARNING", password_hash_time_cost=1, password_hash_memory_kib=1024,
                         whatsapp_app_secret=APP_SECRET, whatsapp_verify_token=VERIFY_TOKEN,
                         whatsapp_graph_url=held_graph.base_url, worker_heartbeat_seconds=HEARTBEAT_SECONDS)


@pytest.fixture(scope="module")
async def api_client(process_settings: Settings, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(process_settings, database_url=database_url)
    async with LifespanManager(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def test_a_worker_killed_after_graph_accepted_the_send_never_sends_it_again(
        api_client: httpx.AsyncClient, held_graph: HeldGraph, process_settings: Settings, database_url: str,
        tmp_path: Path) -> None:
    client, fake = api_client, held_graph.fake
    org = await org_with_number(client, fake)  # type: ignore[arg-type]  # the state without its own listener
    to = random_wa_id()
    held_graph.gate.hold = 8.0  # Meta accepts, the answer never reaches the first worker
    message_id = await send_template(client, org, to)
    first = WorkerProcess(process_settings, database_url, tmp_path / "worker-1.log", **HEARTBEAT).start()
    second = WorkerProcess(process_settings, database_url, tmp_path / "worker-2.log", **HEARTBEAT)
    try:
        async def accepted() -> list[Any]:
            assert first.alive(), first.tail()
            return sends_of(fake, message_id)

        [accepted_send] = await wait_until(accepted, timeout=30, what="the fake to accept the send")
        first.kill()  # after Graph accepted, before the worker processed the answer
        held_graph.gate.hold = 0.0
        [row] = await fetch(database_url, "SELECT status, wamid, attempts, send_claimed_at FROM messages "
                                          "WHERE id = $1::uuid", message_id)
        assert (row["status"], row["wamid"], row["attempts"]) == ("queued", None, 1)
        assert row["send_claimed_at"] is not None
        second.start()

        other = await send_template(client, org, random_wa_id())

        async def second_worker_sending() -> bool | None:  # it sends other messages, never this one again
            assert second.alive(), second.tail()
            return True if sends_of(fake, other) else None

        try:
            await wait_until(second_worker_sending, timeout=20, interval=0.5, what="the second worker to send")
        except AssertionError as error:
            raise AssertionError(f"{error}\nworker 2:\n{second.tail()}") from None
        await asyncio.sleep(HEARTBEAT_SECONDS + 1.0)  # longer than any lease: nothing of the dead worker's comes back
        assert len(sends_of(fake, message_id)) == 1 and len(requests_of(fake, message_id)) == 1
        detail = await get_message(client, org, message_id)
        assert (detail["status"], detail["wamid"]) == ("queued", None)

        # Meta's status webhook echoes our message id: it reconciles the send with Meta's wamid
        body = await deliver(client, builders.status_update(org.phone_number_id, accepted_send.wamid, "delivered",
                                                            to, tracking=message_id))
        assert await wait_processed(database_url, body, timeout=15) == {"statuses": 1}
        detail = await get_message(client, org, message_id)
        assert (detail["status"], detail["wamid"]) == ("delivered", accepted_send.wamid)
        assert [e["status"] for e in detail["status_history"]] == ["delivered"]
        await asyncio.sleep(1.0)
        assert len(sends_of(fake, message_id)) == 1 and len(requests_of(fake, message_id)) == 1
        assert await count(database_url, "SELECT count(*) FROM messages WHERE wamid = $1", accepted_send.wamid) == 1
    finally:
        if first.alive():
            first.kill()
        if second.process is not None:
            assert second.stop() == 0, second.tail()
