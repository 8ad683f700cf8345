"""An automation's progress: its recipients by state and its dispatch rate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.automations import AutomationCounts
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.automations.common import _load
from domain.automations import Automation


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
