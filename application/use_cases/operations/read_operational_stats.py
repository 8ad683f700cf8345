"""Operators (super_admin) read the queue's health."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from application.ports.common import Clock
from application.ports.operations import OperationalStats, OperationsMonitor


class ReadOperationalStats:
    """The metrics endpoint's database gauges (aggregates only, no tenant data), kept for ``max_age``: one instance
    per process, so a scrape storm costs one query per interval, and scrapes arriving while that query runs wait
    for its answer."""

    def __init__(self, *, monitor: OperationsMonitor, clock: Clock, max_age: timedelta = timedelta(seconds=5)) -> None:
        self._monitor, self._clock, self._max_age = monitor, clock, max_age
        self._lock = asyncio.Lock()
        self._cached: tuple[datetime, OperationalStats] | None = None

    async def execute(self) -> OperationalStats:
        async with self._lock:
            if self._cached is not None and self._clock.now() - self._cached[0] < self._max_age:
                return self._cached[1]
            stats = await self._monitor.stats()
            self._cached = (self._clock.now(), stats)
            return stats
