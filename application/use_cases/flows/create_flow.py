"""Create a flow.

Drafts may be incomplete. A flow that becomes or stays ``active`` with a graph or trigger different from
its published version is validated (every problem at once -> 400 ``invalid_flow``) and snapshotted as a
new version; running executions keep the version they started on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.flows import FlowStats
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import FlowView, _description, _name
from domain.flows.limits import check_graph_size
from domain.flows.records import Flow, FlowTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateFlowCommand:
    name: str
    description: str | None = None
    nodes: list[dict[str, Any]] | None = None
    edges: list[dict[str, Any]] | None = None
    trigger: dict[str, Any] | None = None


class CreateFlow:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: CreateFlowCommand) -> FlowView:
        actor.require(Permission.MANAGE_FLOWS)
        now = self._clock.now()
        flow = Flow(id=uuid4(), organization_id=actor.organization_id, name=_name(cmd.name),
                    description=_description(cmd.description), nodes=list(cmd.nodes or []),
                    edges=list(cmd.edges or []), trigger=FlowTrigger.parse(cmd.trigger), created_at=now,
                    updated_at=now)
        check_graph_size(flow.nodes, flow.edges)
        async with self._uow(actor.organization_id) as uow:
            await uow.flows.add(flow)
            await uow.commit()
        return FlowView(flow=flow, stats=FlowStats())
