"""Helpers of the automation use cases: the dispatcher job, loading an automation, the base of the status changes."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from application.authorization import Actor, Permission
from application.events import progress_changed
from application.jobs import DispatchAutomation as DispatchAutomationJob
from application.jobs import enqueue
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.automations import Automation, AutomationNotFound


async def enqueue_dispatch(uow: UnitOfWork, automation: Automation, delay: timedelta | None = None, *,
                           dedupe: bool = True) -> None:
    """A dispatcher job. Resume does not deduplicate: a dispatcher that saw the pause may still be finishing,
    and two dispatchers are safe (recipients are claimed with SKIP LOCKED, the pace is shared)."""
    await enqueue(uow, DispatchAutomationJob(organization_id=automation.organization_id, automation_id=automation.id),
                  dedupe_key=f"dispatch:{automation.id}" if dedupe else None, delay=delay)


async def _load(uow: UnitOfWork, automation_id: UUID, *, for_update: bool = False) -> Automation:
    automation = await uow.automations.get(automation_id, for_update=for_update)
    if automation is None:
        raise AutomationNotFound()
    return automation


class _Control:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def _change(self, actor: Actor, automation_id: UUID) -> Automation:
        actor.require(Permission.MANAGE_FLOWS)
        async with self._uow(actor.organization_id) as uow:
            automation = await _load(uow, automation_id, for_update=True)
            await self._apply(uow, automation)
            await uow.automations.update(automation)
            await progress_changed(uow, [(automation.id, automation.organization_id)], self._clock.now())
            await uow.commit()
        return automation

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        raise NotImplementedError
