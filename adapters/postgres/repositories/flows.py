"""Flows, their versions and their executions (organization-scoped; the expiry sweep runs in system scope)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, insert, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import execute_translated
from adapters.postgres.tables import flow_executions, flow_versions, flows
from application.ports.flows import FlowExecutionRepository, FlowRepository, FlowStats, NodeStat
from domain.flows.records import (
    Flow,
    FlowExecution,
    FlowStatus,
    FlowTrigger,
    FlowVersion,
)
from domain.flows.state import ExecutionState

_RUNNING = ("running", "waiting")


def _require(org: UUID | None) -> UUID:
    if org is None:
        raise RuntimeError("organization-scoped repository used in system scope")
    return org


def _flow(row: Any) -> Flow:
    return Flow(id=row.id, organization_id=row.organization_id, name=row.name, description=row.description,
                status=FlowStatus(row.status), nodes=list(row.nodes or []), edges=list(row.edges or []),
                trigger=FlowTrigger.parse(row.trigger), published_version=row.published_version,
                created_at=row.created_at, updated_at=row.updated_at)


def _flow_values(flow: Flow) -> dict[str, Any]:
    return {"name": flow.name, "description": flow.description, "status": flow.status.value, "nodes": flow.nodes,
            "edges": flow.edges, "trigger": flow.trigger.to_dict() if flow.trigger else None,
            "published_version": flow.published_version, "updated_at": flow.updated_at}


class SqlAlchemyFlowRepository(FlowRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    def _scoped(self) -> Any:
        return flows.c.organization_id == _require(self._org)

    async def add(self, flow: Flow) -> None:
        await self._s.execute(insert(flows).values(id=flow.id, organization_id=_require(self._org),
                                                   created_at=flow.created_at, **_flow_values(flow)))

    async def get(self, flow_id: UUID, *, for_update: bool = False) -> Flow | None:
        query = select(flows).where(flows.c.id == flow_id, self._scoped())
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _flow(row) if row else None

    async def update(self, flow: Flow) -> None:
        await self._s.execute(update(flows).where(flows.c.id == flow.id, self._scoped()).values(**_flow_values(flow)))

    async def delete(self, flow_id: UUID) -> bool:
        result = await self._s.execute(delete(flows).where(flows.c.id == flow_id, self._scoped())
                                       .returning(flows.c.id))
        return result.first() is not None

    async def get_version(self, flow_id: UUID, version: int) -> FlowVersion | None:
        row = (await self._s.execute(select(flow_versions).where(
            flow_versions.c.flow_id == flow_id, flow_versions.c.version == version,
            flow_versions.c.organization_id == _require(self._org)))).first()
        if row is None:
            return None
        return FlowVersion(flow_id=row.flow_id, organization_id=row.organization_id, version=row.version,
                           nodes=list(row.nodes), edges=list(row.edges), trigger=FlowTrigger.parse(row.trigger),
                           created_at=row.created_at)

    async def add_version(self, version: FlowVersion) -> None:
        await self._s.execute(insert(flow_versions).values(
            flow_id=version.flow_id, organization_id=_require(self._org), version=version.version,
            nodes=version.nodes, edges=version.edges, trigger=version.trigger.to_dict() if version.trigger else None,
            created_at=version.created_at))

    async def with_triggers(self) -> list[Flow]:
        rows = (await self._s.execute(select(flows).where(
            self._scoped(), flows.c.status == FlowStatus.ACTIVE.value, flows.c.trigger.is_not(None))
            .order_by(flows.c.created_at, flows.c.id))).all()
        return [_flow(r) for r in rows]

    async def list(self, *, limit: int, offset: int) -> tuple[list[Flow], int]:
        rows = (await self._s.execute(select(flows).where(self._scoped()).order_by(
            flows.c.created_at.desc(), flows.c.id.desc()).limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(flows.c.id).where(self._scoped()), key=("flows", self._org))
        return [_flow(r) for r in rows], total


def _execution(row: Any) -> FlowExecution:
    return FlowExecution(id=row.id, organization_id=row.organization_id, flow_id=row.flow_id, version=row.version,
                         contact_id=row.contact_id, number_id=row.number_id,
                         state=ExecutionState.from_dict(row.state), trigger=row.trigger,
                         automation_id=row.automation_id, started_at=row.started_at, updated_at=row.updated_at,
                         expires_at=row.expires_at)


def _execution_values(execution: FlowExecution) -> dict[str, Any]:
    return {"status": execution.status.value, "state": execution.state.to_dict(),
            "current_node_id": execution.current_node_id, "fail_reason": execution.fail_reason,
            "updated_at": execution.updated_at, "finished_at": execution.finished_at,
            "expires_at": execution.expires_at}


_STATS_SQL = text("""
SELECT count(*) AS total,
       count(*) FILTER (WHERE status = 'completed') AS completed,
       count(*) FILTER (WHERE status NOT IN ('running', 'waiting')) AS finished,
       avg(EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000) FILTER (WHERE status = 'completed') AS avg_ms
FROM flow_executions WHERE flow_id = :flow_id AND organization_id = :org
""")

_NODE_STATS_SQL = text("""
WITH scoped AS (SELECT id, status, current_node_id, state FROM flow_executions
                WHERE flow_id = :flow_id AND organization_id = :org),
reached AS (SELECT node, count(DISTINCT id) AS n FROM scoped, jsonb_array_elements_text(state->'path') AS node
            GROUP BY node),
stopped AS (SELECT current_node_id AS node,
                   count(*) FILTER (WHERE status IN ('running', 'waiting')) AS waiting,
                   count(*) FILTER (WHERE status IN ('failed', 'expired')) AS dropped
            FROM scoped WHERE current_node_id IS NOT NULL GROUP BY current_node_id)
SELECT coalesce(r.node, s.node) AS node, coalesce(r.n, 0) AS reached, coalesce(s.waiting, 0) AS waiting,
       coalesce(s.dropped, 0) AS dropped
FROM reached r FULL JOIN stopped s ON s.node = r.node ORDER BY reached DESC, node
""")


class SqlAlchemyFlowExecutionRepository(FlowExecutionRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    def _scoped(self) -> Any:
        return flow_executions.c.organization_id == _require(self._org)

    async def add(self, execution: FlowExecution) -> None:
        await execute_translated(self._s, insert(flow_executions).values(
            id=execution.id, organization_id=_require(self._org), flow_id=execution.flow_id,
            version=execution.version, contact_id=execution.contact_id, number_id=execution.number_id,
            trigger=execution.trigger, automation_id=execution.automation_id,
            started_at=execution.started_at, **_execution_values(execution)))

    async def running_for(self, number_id: UUID, contact_id: UUID, *, for_update: bool = True
                          ) -> FlowExecution | None:
        query = select(flow_executions).where(
            self._scoped(), flow_executions.c.number_id == number_id, flow_executions.c.contact_id == contact_id,
            flow_executions.c.status.in_(_RUNNING))
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _execution(row) if row else None

    async def running_for_many(self, pairs: Sequence[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], FlowExecution]:
        if not pairs:
            return {}
        rows = (await self._s.execute(select(flow_executions).where(
            self._scoped(), tuple_(flow_executions.c.number_id, flow_executions.c.contact_id).in_(list(pairs)),
            flow_executions.c.status.in_(_RUNNING)).order_by(flow_executions.c.id).with_for_update())).all()
        return {(row.number_id, row.contact_id): _execution(row) for row in rows}

    async def get(self, execution_id: UUID, *, for_update: bool = False) -> FlowExecution | None:
        query = select(flow_executions).where(flow_executions.c.id == execution_id, self._scoped())
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _execution(row) if row else None

    async def update(self, execution: FlowExecution) -> None:
        org = execution.organization_id if self._org is None else self._org
        await self._s.execute(update(flow_executions).where(
            flow_executions.c.id == execution.id, flow_executions.c.organization_id == org)
            .values(**_execution_values(execution)))

    async def list_for_flow(self, flow_id: UUID, *, limit: int, offset: int) -> tuple[list[FlowExecution], int]:
        scope = (self._scoped(), flow_executions.c.flow_id == flow_id)
        rows = (await self._s.execute(select(flow_executions).where(*scope).order_by(
            flow_executions.c.started_at.desc(), flow_executions.c.id.desc()).limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(flow_executions.c.id).where(*scope),
                                          key=("flow_executions", self._org, flow_id))
        return [_execution(r) for r in rows], total

    async def count_running_for_flow(self, flow_id: UUID) -> int:
        return int((await self._s.execute(select(func.count()).select_from(flow_executions).where(
            self._scoped(), flow_executions.c.flow_id == flow_id, flow_executions.c.status.in_(_RUNNING)))
        ).scalar_one())

    async def stats(self, flow_id: UUID) -> FlowStats:
        params = {"flow_id": flow_id, "org": _require(self._org)}
        row = (await self._s.execute(_STATS_SQL, params)).one()
        nodes = (await self._s.execute(_NODE_STATS_SQL, params)).all()
        return FlowStats(total=int(row.total), completed=int(row.completed), finished=int(row.finished),
                         avg_duration_ms=float(row.avg_ms) if row.avg_ms is not None else None,
                         nodes=tuple(NodeStat(node_id=n.node, reached=int(n.reached), waiting=int(n.waiting),
                                              dropped=int(n.dropped)) for n in nodes))

    async def expire_overdue(self, now: datetime, limit: int) -> list[FlowExecution]:
        rows = (await self._s.execute(select(flow_executions).where(
            flow_executions.c.status.in_(_RUNNING), flow_executions.c.expires_at <= now)
            .order_by(flow_executions.c.expires_at).limit(limit).with_for_update(skip_locked=True))).all()
        return [_execution(r) for r in rows]
