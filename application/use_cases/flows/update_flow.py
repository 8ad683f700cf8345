"""Update a flow (publish/archive).

Drafts may be incomplete. A flow that becomes or stays ``active`` with a graph or trigger different from
its published version is validated (every problem at once -> 400 ``invalid_flow``) and snapshotted as a
new version; running executions keep the version they started on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.flows.common import FlowView, _description, _name, load_flow
from domain.errors import InvalidValue
from domain.flows import FlowInvalid, FlowProblem, validate_graph
from domain.flows.limits import check_graph_size
from domain.flows.records import Flow, FlowStatus, FlowTrigger, FlowVersion

UNSET: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFlowCommand:
    """Fields left as ``UNSET`` are not changed; ``trigger=None`` removes the trigger."""

    flow_id: UUID
    name: Any = UNSET
    description: Any = UNSET
    nodes: Any = UNSET
    edges: Any = UNSET
    status: Any = UNSET
    trigger: Any = UNSET


async def _goto_problems(uow: UnitOfWork, flow: Flow) -> list[FlowProblem]:
    """goto_flow nodes must name a flow of the organization (other than a deleted one)."""
    problems = []
    for node in flow.nodes:
        data = node.get("data") if isinstance(node, dict) else None
        if not isinstance(node, dict) or node.get("type") != "goto_flow" or not isinstance(data, dict):
            continue
        target = data.get("flow_id")
        try:
            exists = isinstance(target, str) and await uow.flows.get(UUID(target)) is not None
        except ValueError:
            exists = False
        if target and not exists:
            problems.append(FlowProblem(node_id=str(node.get("id")), problem="goto_flow target flow does not exist"))
    return problems


async def publish_if_needed(uow: UnitOfWork, flow: Flow, now: datetime) -> None:
    if flow.status is not FlowStatus.ACTIVE:
        return
    current = await uow.flows.get_version(flow.id, flow.published_version) if flow.published_version else None
    if current is not None and (current.nodes, current.edges, current.trigger) == (flow.nodes, flow.edges,
                                                                                     flow.trigger):
        return
    problems = validate_graph(flow.graph()) + await _goto_problems(uow, flow)
    if problems:
        raise FlowInvalid(problems)
    version = (flow.published_version or 0) + 1
    await uow.flows.add_version(FlowVersion(flow_id=flow.id, organization_id=flow.organization_id, version=version,
                                            nodes=flow.nodes, edges=flow.edges, trigger=flow.trigger,
                                            created_at=now))
    flow.published_version = version


class UpdateFlow:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: UpdateFlowCommand) -> FlowView:
        actor.require(Permission.MANAGE_FLOWS)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            flow = await load_flow(uow, cmd.flow_id, for_update=True)
            if cmd.name is not UNSET:
                flow.name = _name(cmd.name)
            if cmd.description is not UNSET:
                flow.description = _description(cmd.description)
            if cmd.nodes is not UNSET:
                flow.nodes = list(cmd.nodes)
            if cmd.edges is not UNSET:
                flow.edges = list(cmd.edges)
            if cmd.nodes is not UNSET or cmd.edges is not UNSET:
                check_graph_size(flow.nodes, flow.edges)
            if cmd.trigger is not UNSET:
                flow.trigger = FlowTrigger.parse(cmd.trigger)
            if cmd.status is not UNSET:
                try:
                    flow.status = FlowStatus(cmd.status)
                except ValueError:
                    raise InvalidValue("status must be 'draft', 'active' or 'archived'.") from None
            await publish_if_needed(uow, flow, now)
            flow.updated_at = now
            await uow.flows.update(flow)
            stats = await uow.flow_executions.stats(flow.id)
            await uow.commit()
        return FlowView(flow=flow, stats=stats)
