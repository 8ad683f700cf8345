"""Order is part of correctness: one contact's messages drive its flow in Meta's timestamp order, and a flow's
replies reach the phone in the order the flow wrote them, with several worker processes claiming batches at
once and webhooks arriving shuffled. And one bad message never costs the other messages of its webhook."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.flows_support import Org, deliver, edge, node, org_with_number, publish, sent, shown, wait_sent
from tests.e2e.whatsapp_support import WorkerProcess, fetch, wait_until, worker_processes
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTACTS, WORKERS = 8, 3
T = 1_780_000_000

# "go" starts it; three questions keep the answers; the end says them back in the order they were kept, in three
# messages (so the replies' order shows too)
QUIZ = [node("s", "start"), node("q1", "question", text="one?", variable="a1"),
        node("q2", "question", text="two?", variable="a2"), node("q3", "question", text="three?", variable="a3"),
        node("m1", "message", text="1={{a1}}"), node("m2", "message", text="2={{a2}}"),
        node("end", "end", text="3={{a3}}")]
QUIZ_EDGES = [edge("s", "q1"), edge("q1", "q2"), edge("q2", "q3"), edge("q3", "m1"), edge("m1", "m2"),
              edge("m2", "end")]


@pytest.fixture
def workers(test_settings: Settings, database_url: str, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    # small batches: the workers take turns on the backlog, so one contact's webhooks meet several workers
    with worker_processes(test_settings, database_url, tmp_path, WORKERS, WORKER_POLL_SECONDS="0.2",
                          WORKER_INBOX_BATCH="3") as processes:
        yield processes


def wa_id(i: int) -> str:
    return f"55119{random.randint(10**7, 10**8 - 1)}{i}"[:13]


async def test_shuffled_webhooks_applied_by_several_workers_drive_each_flow_in_metas_order(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, workers: list[WorkerProcess]) -> None:
    org = await org_with_number(client, fake_graph)
    await publish(client, org, QUIZ, QUIZ_EDGES, {"type": "keyword", "keywords": ["go"]})
    people = [wa_id(i) for i in range(CONTACTS)]
    texts = ["go", "red", "green", "blue"]
    deliveries = [builders.inbound_text(org.phone_number_id, who, f"{text}-{i}" if text != "go" else "go",
                                        timestamp=T + step) for i, who in enumerate(people)
                  for step, text in enumerate(texts)]
    random.Random(7).shuffle(deliveries)  # Meta retries and parallel connections reorder deliveries
    await asyncio.gather(*(deliver(client, payload) for payload in deliveries))
    for process in workers:  # everything is stored before any worker runs: only the workers' order matters
        process.start()

    async def all_answered() -> bool | None:
        for process in workers:
            assert process.alive(), process.tail()
        return True if all(len(sent(fake_graph, org, who)) >= 6 for who in people) else None

    await wait_until(all_answered, timeout=60, interval=0.25, what="every quiz to end")
    for i, who in enumerate(people):
        assert [shown(s) for s in sent(fake_graph, org, who)] == [
            "one?", "two?", "three?", f"1=red-{i}", f"2=green-{i}", f"3=blue-{i}"], who


async def test_while_workers_run_each_contacts_answers_arrive_in_order_and_replies_go_out_in_order(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, workers: list[WorkerProcess]) -> None:
    org = await org_with_number(client, fake_graph)
    await publish(client, org, QUIZ, QUIZ_EDGES, {"type": "keyword", "keywords": ["go"]})
    for process in workers:
        process.start()
    people = [wa_id(i) for i in range(CONTACTS)]

    async def converse(i: int, who: str) -> None:
        await deliver(client, builders.inbound_text(org.phone_number_id, who, "go", timestamp=T))
        for step, color in enumerate(("red", "green", "blue"), start=1):
            await wait_sent(fake_graph, org, who, step, timeout=30)  # a person answers what they were asked
            await deliver(client, builders.inbound_text(org.phone_number_id, who, f"{color}-{i}",
                                                        timestamp=T + step))

    await asyncio.gather(*(converse(i, who) for i, who in enumerate(people)))
    for i, who in enumerate(people):
        assert await wait_sent(fake_graph, org, who, 6, timeout=30) == [
            "one?", "two?", "three?", f"1=red-{i}", f"2=green-{i}", f"3=blue-{i}"]


async def test_a_nul_in_one_message_neither_refuses_nor_costs_the_other_message(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, database_url: str,
        workers: list[WorkerProcess]) -> None:
    org: Org = await org_with_number(client, fake_graph)
    first, second = wa_id(1), wa_id(2)
    payload = builders.batch(builders.inbound_text(org.phone_number_id, first, "nul\u0000inside", wamid="wamid.nul1"),
                             builders.inbound_text(org.phone_number_id, second, "plain", wamid="wamid.nul2"))
    await deliver(client, payload)
    workers[0].start()

    async def both_stored() -> list | None:  # type: ignore[type-arg]
        rows = await fetch(database_url, "SELECT wamid, content->>'text' AS text FROM messages "
                                         "WHERE wamid IN ('wamid.nul1', 'wamid.nul2') ORDER BY wamid")
        return rows if len(rows) == 2 else None

    rows = await wait_until(both_stored, timeout=20, what="both messages")
    assert [(r["wamid"], r["text"]) for r in rows] == [("wamid.nul1", "nulinside"), ("wamid.nul2", "plain")]
    [event] = await fetch(database_url, "SELECT status FROM webhook_events "
                                        "WHERE convert_from(body, 'UTF8') LIKE $1", "%wamid.nul1%")
    assert event["status"] == "processed"
