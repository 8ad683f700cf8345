"""Start, pause, resume and cancel an automation; reads of automations, their stats and recipients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.authorization import Actor, Permission
from application.events import progress_changed
from application.jobs import DispatchAutomation as DispatchAutomationJob
from application.jobs import enqueue
from application.ports.automations import AutomationCounts
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.automations import Automation, AutomationNotFound, AutomationStatus, Recipient, RecipientState


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


class PauseAutomation(_Control):
    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        return await self._change(actor, automation_id)

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        automation.pause(self._clock.now())


class ResumeAutomation(_Control):
    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        return await self._change(actor, automation_id)

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        automation.resume(self._clock.now())
        await enqueue_dispatch(uow, automation, dedupe=False)


class CancelAutomation(_Control):
    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        return await self._change(actor, automation_id)

    async def _apply(self, uow: UnitOfWork, automation: Automation) -> None:
        automation.cancel(self._clock.now())


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


class GetAutomation:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await _load(uow, automation_id)


class ListAutomations:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[Automation], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.automations.list(limit=limit, offset=offset)


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomationProgress:
    """An automation, its recipients by state, and how fast it goes: ``dispatched_per_second`` (opening
    messages queued) and ``accepted_per_second`` (what WhatsApp accepted: the rate that matters)."""

    automation: Automation
    counts: AutomationCounts
    dispatched_per_second: float
    accepted_per_second: float


class GetAutomationStats:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, automation_id: UUID) -> AutomationProgress:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            automation = await _load(uow, automation_id)
            counts = await uow.automations.counts(automation_id)
        start, now = automation.started_at, self._clock.now()

        def rate(count: int, end: datetime | None) -> float:
            if start is None or not count:
                return 0.0
            return round(count / max(((end or now) - start).total_seconds(), 0.001), 3)

        accepted_until = counts.last_accepted_at if automation.phase != "sending" else now
        return AutomationProgress(
            automation=automation, counts=counts,
            dispatched_per_second=rate(counts.dispatched, automation.dispatch_finished_at or automation.finished_at),
            accepted_per_second=rate(counts.accepted, accepted_until))


class ListRecipients:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, automation_id: UUID, *, state: RecipientState | None, limit: int,
                      offset: int) -> tuple[list[Recipient], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            await _load(uow, automation_id)
            return await uow.automations.list_recipients(automation_id, state=state, limit=limit, offset=offset)
