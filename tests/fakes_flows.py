"""In-memory doubles for the flow use cases: a unit of work with flows, versions, executions (one running per
contact and number, stats computed like the SQL), contacts, numbers, conversations and messages, copy-on-commit.

The channel and contact doubles implement only what the flow use cases call (structurally, not as subclasses of
ports that other features keep extending); the flow ports are implemented in full."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

from application.ports.events import EventTicket, StoredEvent
from application.ports.flows import (
    FlowExecutionRepository,
    FlowRepository,
    FlowStats,
    HttpCaller,
    HttpCallError,
    HttpResponseData,
    NodeStat,
)
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.channel import Conversation, Message, NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.flows.records import ExecutionAlreadyRunning, Flow, FlowExecution, FlowStatus, FlowVersion
from tests.fakes import FakeJobQueue
from tests.fakes_events import FakeEventLog, FakeEventTicketRepository

_RUNNING = ("running", "waiting")


@dataclass
class FlowStore:
    flows: dict[UUID, Flow] = field(default_factory=dict)
    versions: dict[tuple[UUID, int], FlowVersion] = field(default_factory=dict)
    executions: dict[UUID, FlowExecution] = field(default_factory=dict)
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    numbers: dict[UUID, WhatsAppNumber] = field(default_factory=dict)
    conversations: dict[tuple[UUID, UUID], Conversation] = field(default_factory=dict)
    messages: dict[UUID, Message] = field(default_factory=dict)
    jobs: FakeJobQueue = field(default_factory=FakeJobQueue)
    automations: list[tuple[UUID, str]] = field(default_factory=list)  # (flow_id, status)
    events: list[tuple[StoredEvent, datetime | None]] = field(default_factory=list)
    event_seq: int = 0
    event_purged: dict[UUID, int] = field(default_factory=dict)
    event_tickets: dict[str, EventTicket] = field(default_factory=dict)


class FakeFlowUnitOfWork(UnitOfWork):
    def __init__(self, factory: FakeFlowUnitOfWorkFactory, organization_id: UUID | None) -> None:
        self._factory, self.organization_id = factory, organization_id
        self._work: FlowStore | None = None

    @property
    def work(self) -> FlowStore:
        if self._work is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._work

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._factory.store)
        self.flows = FakeFlowRepository(self)
        self.flow_executions = FakeFlowExecutionRepository(self)
        self.contacts = FakeContacts(self)
        self.numbers = FakeNumbers(self)
        self.conversations = FakeConversations(self)
        self.messages = FakeMessages(self)
        self.automations = FakeAutomationCounts(self)
        self.jobs = self._work.jobs
        self.events = FakeEventLog(self)
        self.event_tickets = FakeEventTicketRepository(self)
        return self

    async def commit(self) -> None:
        self._factory.store = copy.deepcopy(self.work)
        self._factory.commits += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None


class FakeFlowUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self) -> None:
        self.store = FlowStore()
        self.commits = 0

    def __call__(self, organization_id: UUID | None = None) -> FakeFlowUnitOfWork:
        return FakeFlowUnitOfWork(self, organization_id)


class _Repo:
    def __init__(self, uow: FakeFlowUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> FlowStore:
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


class FakeContacts(_Repo):
    async def add(self, contact: Contact) -> None:
        self._db.contacts[contact.id] = copy.deepcopy(contact)

    async def get(self, contact_id: UUID) -> Contact | None:
        found = self._db.contacts.get(contact_id)
        return copy.deepcopy(found) if found is not None and self._mine(found.organization_id) else None

    async def get_by_whatsapp_id(self, whatsapp_id: str) -> Contact | None:
        return next((copy.deepcopy(c) for c in self._db.contacts.values()
                     if c.whatsapp_id == whatsapp_id and self._mine(c.organization_id)), None)

    async def update(self, contact: Contact) -> None:
        self._db.contacts[contact.id] = copy.deepcopy(contact)

    async def delete(self, contact_id: UUID) -> bool:
        return self._db.contacts.pop(contact_id, None) is not None

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Contact], int]:
        raise NotImplementedError


class FakeNumbers(_Repo):
    async def add(self, number: WhatsAppNumber) -> None:
        self._db.numbers[number.id] = copy.deepcopy(number)

    async def get(self, number_id: UUID) -> WhatsAppNumber | None:
        found = self._db.numbers.get(number_id)
        return copy.deepcopy(found) if found is not None and self._mine(found.organization_id) else None

    async def update(self, number: WhatsAppNumber) -> None:
        self._db.numbers[number.id] = copy.deepcopy(number)

    async def list(self, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]:
        mine = [n for n in self._db.numbers.values() if self._mine(n.organization_id)]
        return copy.deepcopy(mine[offset:offset + limit]), len(mine)

    async def default_active(self) -> WhatsAppNumber | None:
        return next((n for n in self._db.numbers.values() if self._mine(n.organization_id)), None)

    async def get_by_phone_number_id_any_org(self, phone_number_id: str) -> WhatsAppNumber | None:
        raise NotImplementedError


class FakeConversations(_Repo):
    async def get(self, number_id: UUID, contact_id: UUID) -> Conversation | None:
        return copy.deepcopy(self._db.conversations.get((number_id, contact_id)))

    async def get_for_update(self, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
        key = (number_id, contact_id)
        if key not in self._db.conversations:
            org = self._uow.organization_id
            assert org is not None
            self._db.conversations[key] = Conversation(id=uuid4(), organization_id=org, number_id=number_id,
                                                       contact_id=contact_id, created_at=now, updated_at=now)
        return copy.deepcopy(self._db.conversations[key])

    async def update(self, conversation: Conversation) -> None:
        self._db.conversations[(conversation.number_id, conversation.contact_id)] = copy.deepcopy(conversation)

    async def record_inbound_many(self, inbound: Sequence[tuple[UUID, UUID, datetime]], now: datetime
                                  ) -> dict[tuple[UUID, UUID], Conversation]:
        found = {}
        for number_id, contact_id, at in sorted(inbound):
            conversation = await self.get_for_update(number_id, contact_id, now)
            conversation.record_inbound(at)
            await self.update(conversation)
            found[(number_id, contact_id)] = copy.deepcopy(conversation)
        return found


class FakeMessages(_Repo):
    async def add(self, message: Message) -> None:
        self._db.messages[message.id] = copy.deepcopy(message)

    async def add_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.add(message)

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        return copy.deepcopy(self._db.messages.get(message_id))

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(name)


class FakeAutomationCounts(_Repo):
    """What flows ask of automations: how many unfinished ones use a flow; and, routing an inbound message,
    the contact's recipients (this store keeps no audience: there are none)."""

    async def count_unfinished_for_flow(self, flow_id: UUID) -> int:
        return sum(1 for f, status in self._db.automations
                   if f == flow_id and status in ("scheduled", "running", "paused"))

    async def recipients_of_contacts(self, contact_ids: Sequence[UUID], states: Sequence[Any]) -> dict[UUID, Any]:
        return {}

    async def update_recipients(self, recipients: Sequence[Any]) -> None:
        assert not recipients


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


def seed_channel(uow: FakeFlowUnitOfWorkFactory, org: UUID, now: datetime,
                 whatsapp_id: str = "5511999990000") -> tuple[WhatsAppNumber, Contact]:
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id="100", waba_id=None,
                            phone_number="15550001111", display_name="N", status=NumberStatus.ACTIVE, verified=True,
                            access_token_secret_id=uuid4(), created_at=now, updated_at=now)
    contact = Contact(id=uuid4(), organization_id=org, whatsapp_id=whatsapp_id, name="Ana", created_at=now,
                      updated_at=now)
    uow.store.numbers[number.id] = number
    uow.store.contacts[contact.id] = contact
    return number, contact

