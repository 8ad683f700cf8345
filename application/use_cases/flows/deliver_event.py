"""Worker: deliver a timer or an HTTP call's result to a running flow execution, under the per-contact lock.

Events reach an execution under the per-contact lock, taken in the same order as the inbound path (the
conversation row, then the execution row) so a timer and a reply never deadlock each other.
"""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.flows.runtime import FlowRuntime
from domain.flows import Event, TimerFired
from domain.flows.records import FlowExecution
from domain.flows.state import ExecutionStatus


async def locked_execution(uow: UnitOfWork, execution_id: UUID) -> FlowExecution | None:
    """The execution, locked after its conversation (the inbound path's lock order); None when it is over."""
    found = await uow.flow_executions.get(execution_id)
    if found is None or not found.is_running:
        return None
    await uow.conversations.get_or_create_locked(found.number_id, found.contact_id, found.updated_at)
    execution = await uow.flow_executions.get(execution_id, for_update=True)
    return execution if execution is not None and execution.is_running else None


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


JOB_GAVE_UP = "job_gave_up"
"""An execution's timer or HTTP job failed for good: the execution ends ``failed`` with this reason."""


class FailFlowExecution:
    """The worker gave up on one of an execution's jobs (a timer or an HTTP call, after its retries): the execution
    would otherwise wait forever, so it ends ``failed`` with reason ``job_gave_up``. False when it was over."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, execution_id: UUID) -> bool:
        async with self._uow(organization_id) as uow:
            execution = await locked_execution(uow, execution_id)
            if execution is None:
                return False
            now = self._clock.now()
            execution.state = replace(execution.state, status=ExecutionStatus.FAILED, fail_reason=JOB_GAVE_UP,
                                      waiting_for=None, pending_timer_id=None, pending_call_id=None, finished_at=now)
            execution.updated_at = now
            await uow.flow_executions.update(execution)
            await uow.commit()
        return True
