"""Worker: the dispatch job failed for good; the automation is paused with the reason."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.automations import AutomationStatus


class StopAutomationDispatch:
    """The dispatch job failed for good: a running or scheduled automation is paused with the reason (resuming it
    queues a new dispatch, which continues with the recipients not dispatched yet). False when nothing changed."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, automation_id: UUID, reason: str) -> bool:
        async with self._uow(organization_id) as uow:
            automation = await uow.automations.get(automation_id, for_update=True)
            if automation is None or automation.status not in (AutomationStatus.RUNNING, AutomationStatus.SCHEDULED):
                return False
            automation.pause(self._clock.now(), reason[:500])
            await uow.automations.update(automation)
            await uow.commit()
        return True
