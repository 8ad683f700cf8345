"""Worker (every minute): a stored webhook that is still pending long after it arrived gets its job again.

Ingress stores the body and enqueues its processing in one transaction, so this only matters when a job went
missing anyway (an operator purged the queue, a crash at the wrong moment inside the queue library). The job's
dedupe key (``webhook:<event id>``) means an event whose job is still queued or running is left alone, and
processing is idempotent, so requeueing never applies a webhook twice.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.jobs import PROCESS_WEBHOOK_JOB

log = structlog.get_logger("pytake.webhook")

STALLED_AFTER = timedelta(minutes=2)
BATCH = 500


def webhook_job_key(event_id: object) -> str:
    return f"webhook:{event_id}"


class RequeueStalledWebhooks:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, stalled_after: timedelta = STALLED_AFTER) -> None:
        self._uow, self._clock, self._stalled_after = uow, clock, stalled_after

    async def execute(self) -> int:
        """Returns how many events got a new job."""
        async with self._uow() as uow:
            stalled = await uow.webhook_events.list_stalled(received_before=self._clock.now() - self._stalled_after,
                                                            limit=BATCH)
            requeued = 0
            for event_id in stalled:
                if await uow.jobs.enqueue(PROCESS_WEBHOOK_JOB, {"event_id": str(event_id)},
                                          dedupe_key=webhook_job_key(event_id)):
                    requeued += 1
            await uow.commit()
        if requeued:
            log.warning("webhook.requeued_stalled", events=requeued)
        return requeued
