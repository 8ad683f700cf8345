"""In-memory flow repositories on the one ``FakeStore`` (``tests/fake_uow.py``): flows, versions and executions
(one running per contact and number, stats computed like the SQL); a scripted HTTP caller; a channel seed."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from application.ports.flows import (
    FlowExecutionRepository,
    FlowRepository,
    FlowStats,
    HttpCaller,
    HttpCallError,
    HttpResponseData,
    NodeStat,
)
from domain.channel import NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.flows.records import ExecutionAlreadyRunning, Flow, FlowExecution, FlowStatus, FlowVersion

if TYPE_CHECKING:
    from tests.fake_uow import FakeStore, FakeUnitOfWork, FakeUnitOfWorkFactory

_RUNNING = ("running", "waiting")


class _Repo:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> FakeStore:
        return self._uow.work

    def _mine(self, organization_id: UUID) -> bool:
        if self._uow.organization_id is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return organization_id == self._uow.organization_id


class FakeFlowRepository(_Repo, FlowRepository):
    async def add(self, flow: Flow) -> None:
        assert self._mine(flow.organization_id)
        self._db.flows[flow.id] = copy.deepcopy(flow)

    async def get(self, flow_id: UUID, *, for_update: bool = False) -> Flow | None:
        flow = self._db.flows.get(flow_id)
        return copy.deepcopy(flow) if flow is not None and self._mine(flow.organization_id) else None

    async def update(self, flow: Flow) -> None:
        if flow.id in self._db.flows and self._mine(self._db.flows[flow.id].organization_id):
            self._db.flows[flow.id] = copy.deepcopy(flow)

    async def delete(self, flow_id: UUID) -> bool:
        if await self.get(flow_id) is None:
            return False
        del self._db.flows[flow_id]
        self._db.versions = {k: v for k, v in self._db.versions.items() if k[0] != flow_id}
        self._db.executions = {k: e for k, e in self._db.executions.items() if e.flow_id != flow_id}
        return True

    async def get_version(self, flow_id: UUID, version: int) -> FlowVersion | None:
        found = self._db.versions.get((flow_id, version))
        return found if found is not None and self._mine(found.organization_id) else None

    async def add_version(self, version: FlowVersion) -> None:
        key = (version.flow_id, version.version)
        assert self._mine(version.organization_id) and key not in self._db.versions, "flow_versions unique"
        self._db.versions[key] = copy.deepcopy(version)

    async def with_triggers(self) -> list[Flow]:
        found = [f for f in self._db.flows.values() if self._mine(f.organization_id)
                 and f.status is FlowStatus.ACTIVE and f.trigger is not None]
        return copy.deepcopy(sorted(found, key=lambda f: (f.created_at, f.id)))

    async def list(self, *, limit: int, offset: int) -> tuple[list[Flow], int]:
        mine = sorted((f for f in self._db.flows.values() if self._mine(f.organization_id)),
                      key=lambda f: (f.created_at, f.id), reverse=True)
        return copy.deepcopy(mine[offset:offset + limit]), len(mine)


class FakeFlowExecutionRepository(_Repo, FlowExecutionRepository):
    def _visible(self, execution: FlowExecution) -> bool:
        return self._uow.organization_id is None or execution.organization_id == self._uow.organization_id

    async def add(self, execution: FlowExecution) -> None:
        assert self._mine(execution.organization_id)
        if execution.status.value in _RUNNING and await self.running_for(execution.number_id, execution.contact_id):
            raise ExecutionAlreadyRunning()
        self._db.executions[execution.id] = copy.deepcopy(execution)

    async def running_for(self, number_id: UUID, contact_id: UUID, *, for_update: bool = True
                          ) -> FlowExecution | None:
        for e in self._db.executions.values():
            if self._mine(e.organization_id) and (e.number_id, e.contact_id) == (number_id, contact_id) \
                    and e.status.value in _RUNNING:
                return copy.deepcopy(e)
        return None

    async def running_for_many(self, pairs: Sequence[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], FlowExecution]:
        found = {pair: await self.running_for(*pair) for pair in pairs}
        return {pair: e for pair, e in found.items() if e is not None}

    async def get(self, execution_id: UUID, *, for_update: bool = False) -> FlowExecution | None:
        found = self._db.executions.get(execution_id)
        return copy.deepcopy(found) if found is not None and self._mine(found.organization_id) else None

    async def update(self, execution: FlowExecution) -> None:
        stored = self._db.executions.get(execution.id)
        if stored is not None and self._visible(stored):
            self._db.executions[execution.id] = copy.deepcopy(execution)

    def _of(self, flow_id: UUID) -> list[FlowExecution]:
        return [e for e in self._db.executions.values() if e.flow_id == flow_id and self._mine(e.organization_id)]

    async def list_for_flow(self, flow_id: UUID, *, limit: int, offset: int) -> tuple[list[FlowExecution], int]:
        found = sorted(self._of(flow_id), key=lambda e: (e.started_at, e.id), reverse=True)
        return copy.deepcopy(found[offset:offset + limit]), len(found)

    async def count_running_for_flow(self, flow_id: UUID) -> int:
        return sum(1 for e in self._of(flow_id) if e.status.value in _RUNNING)

    async def stats(self, flow_id: UUID) -> FlowStats:
        found = self._of(flow_id)
        completed = [e for e in found if e.status.value == "completed"]
        durations = [((e.finished_at or e.started_at) - e.started_at) / timedelta(milliseconds=1) for e in completed]
        nodes: dict[str, dict[str, int]] = {}
        for e in found:
            for node_id in set(e.path):
                nodes.setdefault(node_id, {"reached": 0, "waiting": 0, "dropped": 0})["reached"] += 1
            if e.current_node_id is not None:
                entry = nodes.setdefault(e.current_node_id, {"reached": 0, "waiting": 0, "dropped": 0})
                entry["waiting"] += e.status.value in _RUNNING
                entry["dropped"] += e.status.value in ("failed", "expired")
        ordered = sorted(nodes.items(), key=lambda kv: (-kv[1]["reached"], kv[0]))
        return FlowStats(total=len(found), completed=len(completed),
                         finished=sum(1 for e in found if e.status.value not in _RUNNING),
                         avg_duration_ms=sum(durations) / len(durations) if durations else None,
                         nodes=tuple(NodeStat(node_id=k, **v) for k, v in ordered))

    async def expire_overdue(self, now: datetime, limit: int) -> list[FlowExecution]:
        found = [e for e in self._db.executions.values() if e.status.value in _RUNNING and e.expires_at <= now]
        return copy.deepcopy(sorted(found, key=lambda e: e.expires_at)[:limit])


class ScriptedHttpCaller(HttpCaller):
    """Answers each call with the next scripted response (or raises the scripted error); records requests."""

    def __init__(self, *answers: HttpResponseData | HttpCallError) -> None:
        self.answers: list[HttpResponseData | HttpCallError] = list(answers)
        self.calls: list[dict[str, Any]] = []

    async def call(self, method: str, url: str, headers: Any, body: object | None,
                   timeout_seconds: float) -> HttpResponseData:
        self.calls.append({"method": method, "url": url, "headers": dict(headers), "body": body,
                           "timeout_seconds": timeout_seconds})
        answer = self.answers.pop(0)
        if isinstance(answer, HttpCallError):
            raise answer
        return answer


def seed_channel(uow: FakeUnitOfWorkFactory, org: UUID, now: datetime,
                 whatsapp_id: str = "5511999990000") -> tuple[WhatsAppNumber, Contact]:
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id="100", waba_id=None,
                            phone_number="15550001111", display_name="N", status=NumberStatus.ACTIVE, verified=True,
                            access_token_secret_id=uuid4(), created_at=now, updated_at=now)
    contact = Contact(id=uuid4(), organization_id=org, whatsapp_id=whatsapp_id, name="Ana", created_at=now,
                      updated_at=now)
    uow.store.numbers[number.id] = number
    uow.store.contacts[contact.id] = contact
    return number, contact

