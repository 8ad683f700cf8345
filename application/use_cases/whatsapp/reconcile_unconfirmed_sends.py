"""Worker: the minute sweep of sends whose outcome stayed unknown."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import structlog

from application.messaging.statuses import StatusChange, StatusRecorder
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.messaging import MessageStatus

log = structlog.get_logger("pytake.send")


class ReconcileUnconfirmedSends:
    """The minute sweep: a send whose outcome stayed unknown for ``timeout`` (no answer, no status webhook
    with our id) is failed, never sent again."""

    TITLE = "Delivery outcome unknown: WhatsApp never confirmed the send; it was not retried."

    def __init__(self, *, uow: UnitOfWorkFactory, statuses: StatusRecorder, clock: Clock,
                 timeout: timedelta = timedelta(minutes=10)) -> None:
        self._uow, self._statuses, self._clock, self._timeout = uow, statuses, clock, timeout

    async def execute(self) -> int:
        now = self._clock.now()
        async with self._uow() as uow:
            stale = await uow.outbox.unconfirmed(now - self._timeout, 500)
        by_org: dict[UUID, list[UUID]] = {}
        for organization_id, message_id in stale:
            by_org.setdefault(organization_id, []).append(message_id)
        failed = 0
        for organization_id, message_ids in by_org.items():
            async with self._uow(organization_id) as uow:
                messages = await uow.messages.get_many(message_ids, for_update=True)
                unknown = [m for m in messages.values()
                           if m.status == MessageStatus.QUEUED.value and m.wamid is None and m.send_claimed_at]
                await self._statuses.record(uow, [StatusChange(message=m, status=MessageStatus.FAILED, at=now,
                                                               error_title=self.TITLE) for m in unknown], now)
                await uow.commit()
            failed += len(unknown)
        if failed:
            log.warning("send.unconfirmed_failed", count=failed)
        return failed
