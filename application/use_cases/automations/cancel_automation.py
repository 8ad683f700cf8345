"""Cancel an automation."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor
from application.ports.uow import UnitOfWork
from application.use_cases.automations.common import _Control
from domain.automations import Automation


class CancelAutomation(_Control):
    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        return await self._change(actor, automation_id)

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        automation.cancel(self._clock.now())
