"""A number's throughput holds: 500 sends at 50 messages per second take about 10 s, never above 50 in a second."""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.whatsapp_support import (
    WorkerProcess,
    count,
    fetch,
    org_with_number,
    random_wa_id,
    send_template,
    wait_until,
    worker_processes,
)
from tests.fake_graph.server import FakeGraphServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SENDS, RATE, REPLICAS = 500, 50, 2


@pytest.fixture
def workers(test_settings: Settings, database_url: str, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Two replicas of the real worker, each its own process with room for 100 jobs at once (started by the
    test). The number's pace is shared by the replicas through PostgreSQL, which is what is measured."""
    with worker_processes(test_settings, database_url, tmp_path, REPLICAS, WORKER_CONCURRENCY="100") as processes:
        yield processes


async def test_500_sends_at_50_per_second_take_about_10_seconds(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, workers: list[WorkerProcess],
        database_url: str) -> None:
    org = await org_with_number(client, fake_graph)
    assert await count(database_url, "WITH u AS (UPDATE whatsapp_numbers SET throughput_mps = $1 WHERE id = $2::uuid "
                                     "RETURNING 1) SELECT count(*) FROM u", RATE, org.number["id"]) == 1
    recipients = [random_wa_id() for _ in range(25)]
    gate = asyncio.Semaphore(25)

    async def queue(i: int) -> str:
        async with gate:
            return await send_template(client, org, recipients[i % len(recipients)])

    # all 500 are queued through the API first, then one worker drains them: the pace is the pacer's alone
    message_ids = await asyncio.gather(*(queue(i) for i in range(SENDS)))
    for process in workers:
        process.start()

    def ours() -> list[float]:
        return sorted(s.at for s in fake_graph.sent_messages if s.phone_number_id == org.phone_number_id)

    async def all_sent() -> bool:
        for process in workers:
            assert process.alive(), process.tail()
        return len(ours()) >= SENDS

    await wait_until(all_sent, timeout=40, interval=0.25, what=f"{SENDS} sends")
    requests = [r for r in fake_graph.requests if r.path.endswith(f"/{org.phone_number_id}/messages")]
    assert len(requests) == SENDS and {r.status for r in requests} == {200}  # no refusal, no retry
    tracked = [s.biz_opaque_callback_data for s in fake_graph.sent_messages
               if s.phone_number_id == org.phone_number_id]
    assert sorted(tracked) == sorted(message_ids)  # each message exactly once

    stamps = sorted(r.at for r in requests)
    elapsed = stamps[-1] - stamps[0]
    # 500 sends at most 50 per calendar second touch at least ten seconds of the calendar: more than 8 s from the
    # first to the last (the first may go out at the end of its second, the last at the start of its own); about
    # 9-10 s here, more when this 2-core machine is starved
    assert 8.0 < elapsed <= 20.0, elapsed
    # The limiter's own record: sends admitted per calendar second (database clock) never exceed the limit,
    # whichever worker process sent them.
    admitted = await fetch(database_url, "SELECT second, count FROM send_admissions WHERE key = $1",
                           f"number:{org.number['id']}")
    assert sum(r["count"] for r in admitted) == SENDS
    assert max(r["count"] for r in admitted) <= RATE, sorted((r["second"], r["count"]) for r in admitted)
    # What the fake Graph API saw: the same pace, up to the scheduling jitter between admission and arrival
    # (a CPU-starved worker can carry a few sends of one second into the next), bounded here at 20 %. The first
    # second is left out: the sends admitted in it go out on connections the worker is still opening, and on
    # this 2-core machine under the whole suite they arrived with the next second's (75 in one second, once).
    to_wall = time.time() - time.monotonic()
    per_second = Counter(math.floor(at + to_wall) for at in stamps)
    first = min(per_second)
    assert max(n for second, n in per_second.items() if second != first) <= RATE * 1.2, sorted(per_second.items())
    assert per_second[first] <= RATE * 2, sorted(per_second.items())  # at most that second's and the next one's
