"""Create, read, update (publish/archive), delete flows; list a flow's executions.

Drafts may be incomplete. A flow that becomes or stays ``active`` with a graph or trigger different from
its published version is validated (every problem at once -> 400 ``invalid_flow``) and snapshotted as a
new version; running executions keep the version they started on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.flows import FlowStats
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.errors import InvalidValue
from domain.flows import FlowInvalid, FlowProblem, validate_graph
from domain.flows.limits import check_graph_size
from domain.flows.records import Flow, FlowExecution, FlowInUse, FlowNotFound, FlowStatus, FlowTrigger, FlowVersion

UNSET: Any = object()
NAME_MAX, DESCRIPTION_MAX = 255, 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowView:
    flow: Flow
    stats: FlowStats | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateFlowCommand:
    name: str
    description: str | None = None
    nodes: list[dict[str, Any]] | None = None
    edges: list[dict[str, Any]] | None = None
    trigger: dict[str, Any] | None = None


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


def _name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidValue(f"name must be 1 to {NAME_MAX} characters.")
    return cleaned


def _description(text: str | None) -> str | None:
    if text is not None and len(text) > DESCRIPTION_MAX:
        raise InvalidValue(f"description has at most {DESCRIPTION_MAX} characters.")
    return text or None


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


async def load_flow(uow: UnitOfWork, flow_id: UUID, *, for_update: bool = False) -> Flow:
    flow = await uow.flows.get(flow_id, for_update=for_update)
    if flow is None:
        raise FlowNotFound()
    return flow


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


class GetFlow:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, flow_id: UUID) -> FlowView:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            flow = await load_flow(uow, flow_id)
            return FlowView(flow=flow, stats=await uow.flow_executions.stats(flow_id))


class ListFlows:
    """Newest first; ``stats`` is only computed by GET /flows/{id}."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[FlowView], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            flows, total = await uow.flows.list(limit=limit, offset=offset)
        return [FlowView(flow=f) for f in flows], total


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


class ListExecutions:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, flow_id: UUID, *, limit: int, offset: int
                      ) -> tuple[list[FlowExecution], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            await load_flow(uow, flow_id)
            return await uow.flow_executions.list_for_flow(flow_id, limit=limit, offset=offset)
