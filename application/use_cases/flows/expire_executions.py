"""Worker (every minute): running flow executions past their maximum lifetime end as ``expired``."""

from __future__ import annotations

import structlog

from application import events
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.flows import expire

log = structlog.get_logger("pytake.flows")


class ExpireFlowExecutions:
    """The periodic sweep: running executions past their maximum lifetime end as ``expired``."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, batch_size: int = 500) -> None:
        self._uow, self._clock, self._batch = uow, clock, batch_size

    async def execute(self) -> int:
        now, expired = self._clock.now(), 0
        while True:
            async with self._uow() as uow:
                overdue = await uow.flow_executions.expire_overdue(now, self._batch)
                for execution in overdue:
                    execution.state, execution.updated_at = expire(execution.state, now).state, now
                    await uow.flow_executions.update(execution)
                    events.flow_execution_finished(uow, execution)
                await uow.commit()
            expired += len(overdue)
            if len(overdue) < self._batch:
                break
        if expired:
            log.info("flow.executions_expired", count=expired)
        return expired
