"""Read one flow with its stats."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import FlowView, load_flow


class GetFlow:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, flow_id: UUID) -> FlowView:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            flow = await load_flow(uow, flow_id)
            return FlowView(flow=flow, stats=await uow.flow_executions.stats(flow_id))
