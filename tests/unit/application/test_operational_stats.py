"""The metrics endpoint's database gauges are cached: a scrape storm costs one query per interval."""

from __future__ import annotations

import asyncio

from application.ports.operations import DeadLetter, OperationalStats, OperationsMonitor
from tests.bootstrap import bootstrap_test_app
from tests.fakes import FakeClock


class CountingMonitor(OperationsMonitor):
    """Answers stats with a growing dead-letter count, so each answer tells which query produced it."""

    def __init__(self) -> None:
        self.queries = 0

    async def stats(self) -> OperationalStats:
        self.queries += 1
        await asyncio.sleep(0)  # a real query suspends: concurrent scrapes overlap here
        return OperationalStats(queue=[], webhooks_pending=0, oldest_pending_webhook_age_seconds=0.0,
                                dead_letters=self.queries)

    async def dead_letters(self, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
        return [], 0


async def test_scrapes_within_the_interval_share_one_query() -> None:
    monitor, clock = CountingMonitor(), FakeClock()
    stats = bootstrap_test_app(operations_monitor=monitor, clock=clock, metrics_cache_seconds=5).read_operational_stats

    first = await stats.execute()
    clock.advance(seconds=4.9)
    second = await stats.execute()
    assert monitor.queries == 1 and second == first

    clock.advance(seconds=0.1)
    third = await stats.execute()
    assert monitor.queries == 2 and third.dead_letters == 2


async def test_concurrent_scrapes_wait_for_the_one_query_in_flight() -> None:
    monitor = CountingMonitor()
    stats = bootstrap_test_app(operations_monitor=monitor, metrics_cache_seconds=5).read_operational_stats

    answers = await asyncio.gather(*(stats.execute() for _ in range(10)))

    assert monitor.queries == 1 and {a.dead_letters for a in answers} == {1}


async def test_a_zero_interval_queries_every_time() -> None:
    monitor = CountingMonitor()
    stats = bootstrap_test_app(operations_monitor=monitor, metrics_cache_seconds=0).read_operational_stats
    for _ in range(3):
        await stats.execute()
    assert monitor.queries == 3
