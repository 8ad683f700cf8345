"""Worker jobs of live events: an automation's throttled progress, and the 24-hour retention."""

from __future__ import annotations

from datetime import timedelta

import structlog

from application.events import automation_progress
from application.jobs import PublishAutomationProgress
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory

log = structlog.get_logger("pytake.events")

RETENTION = timedelta(hours=24)


class PublishProgress:
    """The job of ``application.events.progress_changed``: one ``automation.progress`` with the committed counts."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, job: PublishAutomationProgress) -> bool:
        async with self._uow(job.organization_id) as uow:
            automation = await uow.automations.get(job.automation_id)
            if automation is None:
                return False
            automation_progress(uow, automation, await uow.automations.counts(job.automation_id))
            await uow.commit()
        return True


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
