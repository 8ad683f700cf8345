"""Worker: one of an execution's jobs gave up after its retries; the execution fails."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import locked_execution
from domain.flows.state import ExecutionStatus

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
