"""List a flow's executions."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import load_flow
from domain.flows.records import FlowExecution


class ListExecutions:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, flow_id: UUID, *, limit: int, offset: int
                      ) -> tuple[list[FlowExecution], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            await load_flow(uow, flow_id)
            return await uow.flow_executions.list_for_flow(flow_id, limit=limit, offset=offset)
