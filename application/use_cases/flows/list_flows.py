"""List the organization's flows."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import FlowView


class ListFlows:
    """Newest first; ``stats`` is only computed by GET /flows/{id}."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[FlowView], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            flows, total = await uow.flows.list(limit=limit, offset=offset)
        return [FlowView(flow=f) for f in flows], total
