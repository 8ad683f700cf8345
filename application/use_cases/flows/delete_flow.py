"""Delete a flow."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import load_flow
from domain.flows.records import FlowInUse, FlowStatus


class DeleteFlow:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, flow_id: UUID) -> None:
        actor.require(Permission.MANAGE_FLOWS)
        async with self._uow(actor.organization_id) as uow:
            flow = await load_flow(uow, flow_id, for_update=True)
            if flow.status is not FlowStatus.ARCHIVED and (
                    await uow.flow_executions.count_running_for_flow(flow_id)
                    or await uow.automations.count_unfinished_for_flow(flow_id)):
                raise FlowInUse()
            await uow.flows.delete(flow_id)
            await uow.commit()
