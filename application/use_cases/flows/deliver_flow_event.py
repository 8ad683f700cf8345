"""Worker: deliver a timer or an HTTP call's result to a running flow execution, under the per-contact lock.

Events reach an execution under the per-contact lock, taken in the same order as the inbound path (the
conversation row, then the execution row) so a timer and a reply never deadlock each other."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import locked_execution
from application.use_cases.flows.runtime import FlowRuntime
from domain.flows import Event, TimerFired


class DeliverFlowEvent:
    """Deliver a timer or HTTP result to a running execution, under its lock."""

    def __init__(self, *, uow: UnitOfWorkFactory, runtime: FlowRuntime, clock: Clock) -> None:
        self._uow, self._runtime, self._clock = uow, runtime, clock

    async def execute(self, organization_id: UUID, execution_id: UUID, event: Event) -> bool:
        async with self._uow(organization_id) as uow:
            execution = await locked_execution(uow, execution_id)
            if execution is None:
                return False
            changed = await self._runtime.deliver(uow, execution, event, self._clock.now())
            await uow.commit()
        return changed

    async def timer(self, organization_id: UUID, execution_id: UUID, timer_id: str) -> bool:
        return await self.execute(organization_id, execution_id, TimerFired(timer_id=timer_id))
