"""Worker job of live events: the 24-hour retention."""

from __future__ import annotations

from datetime import timedelta

import structlog

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory

log = structlog.get_logger("pytake.events")


RETENTION = timedelta(hours=24)


class PurgeEvents:
    """Periodic: events older than the retention are deleted (in batches, each its own transaction), and so
    are expired stream tickets. A client resuming from a deleted event is told to refetch (``reset``)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, retention: timedelta = RETENTION,
                 batch_size: int = 5000) -> None:
        self._uow, self._clock, self._retention, self._batch = uow, clock, retention, batch_size

    async def execute(self) -> int:
        now = self._clock.now()
        purged = 0
        while True:
            async with self._uow() as uow:
                deleted = await uow.events.purge(now - self._retention, self._batch)
                if deleted < self._batch:
                    await uow.event_tickets.delete_expired(now)
                await uow.commit()
            purged += deleted
            if deleted < self._batch:
                break
        if purged:
            log.info("events.purged", count=purged)
        return purged
