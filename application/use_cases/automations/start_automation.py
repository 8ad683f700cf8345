"""Start an automation: draft -> running (or scheduled when schedule_at is in the future)."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor
from application.ports.uow import UnitOfWork
from application.use_cases.automations.common import _Control, enqueue_dispatch
from domain.automations import Automation, AutomationStatus


class StartAutomation(_Control):
    """draft -> running (or scheduled when schedule_at is in the future); a second start is 409."""

    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        return await self._change(actor, automation_id)

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        current = self._clock.now()
        automation.start(current)
        delay = None
        if automation.status is AutomationStatus.SCHEDULED and automation.schedule_at is not None:
            delay = automation.schedule_at - current
        await enqueue_dispatch(uow, automation, delay)
