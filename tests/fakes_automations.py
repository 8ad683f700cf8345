"""In-memory doubles for the flow-automation use cases.

One ``AutomationStore`` (the channel store - contacts, numbers, conversations, messages, jobs - plus flows,
flow executions, automations and their recipients) behind a copy-on-commit unit of work like the other fakes.
The automation repository mirrors the PostgreSQL adapter's observable semantics: organization scoping,
``next_pending`` in ``seq`` order skipping recipients another open unit of work holds (SKIP LOCKED), counts
joined with the flow executions exactly like the SQL. The flow starter records every start and can be told a
contact is busy in another flow (it then answers None, like the runtime).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

from application.messaging.outbound import queue_outbound
from application.ports.automations import AutomationCounts, AutomationRepository
from application.ports.flow_starter import FlowStarter
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.automations import Automation, Recipient, RecipientState
from domain.channel import WhatsAppNumber
from domain.contacts import Contact
from domain.flows.records import Flow, FlowExecution, FlowVersion
from tests.fakes import FakeContactRepository
from tests.fakes_channel import (
    ChannelStore,
    FakeConversationRepository,
    FakeMessageRepository,
    FakeNumberRepository,
    FakeOutbox,
    FakeWebhookEventStore,
)
from tests.fakes_events import FakeEventLog, FakeEventTicketRepository
from tests.fakes_flows import FakeFlowExecutionRepository, FakeFlowRepository

_UNFINISHED = ("scheduled", "running", "paused")
_LIVE = ("scheduled", "running", "paused", "completed")


@dataclass
class AutomationStore(ChannelStore):
    flows: dict[UUID, Flow] = field(default_factory=dict)
    versions: dict[tuple[UUID, int], FlowVersion] = field(default_factory=dict)
    executions: dict[UUID, FlowExecution] = field(default_factory=dict)
    execution_status: dict[UUID, str] = field(default_factory=dict)  # flow execution id -> its status
    automations: dict[UUID, Automation] = field(default_factory=dict)
    recipients: dict[UUID, Recipient] = field(default_factory=dict)


class FakeAutomationUnitOfWork(UnitOfWork):
    def __init__(self, factory: FakeAutomationUnitOfWorkFactory, organization_id: UUID | None) -> None:
        self._factory, self.organization_id = factory, organization_id
        self._work: AutomationStore | None = None
        self.locked: set[UUID] = set()  # recipients this unit of work holds (FOR UPDATE)

    @property
    def work(self) -> AutomationStore:
        if self._work is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._work

    async def __aenter__(self) -> Self:
        if self._work is not None:
            raise RuntimeError("unit of work entered twice")
        self._work = copy.deepcopy(self._factory.store)
        self._factory.open.append(self)
        self.contacts = FakeContactRepository(self)  # type: ignore[arg-type]  # duck-typed: needs .work.contacts
        self.numbers = FakeNumberRepository(self)  # type: ignore[arg-type]
        self.conversations = FakeConversationRepository(self)  # type: ignore[arg-type]
        self.messages = FakeMessageRepository(self)  # type: ignore[arg-type]
        self.webhook_events = FakeWebhookEventStore(self)  # type: ignore[arg-type]
        self.outbox = FakeOutbox(self)  # type: ignore[arg-type]
        self.flows = FakeFlowRepository(self)  # type: ignore[arg-type]
        self.flow_executions = FakeFlowExecutionRepository(self)  # type: ignore[arg-type]
        self.automations = FakeAutomationRepository(self)
        self.jobs = self._work.job_queue
        self.events = FakeEventLog(self)
        self.event_tickets = FakeEventTicketRepository(self)
        return self

    async def commit(self) -> None:
        self._factory.store = copy.deepcopy(self.work)
        self._factory.commits += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None
        self.locked.clear()
        self._factory.open.remove(self)


class FakeAutomationUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, store: AutomationStore | None = None) -> None:
        self.store = store if store is not None else AutomationStore()
        self.commits = 0
        self.open: list[FakeAutomationUnitOfWork] = []

    def __call__(self, organization_id: UUID | None = None) -> FakeAutomationUnitOfWork:
        return FakeAutomationUnitOfWork(self, organization_id)

    def locked_elsewhere(self, uow: FakeAutomationUnitOfWork) -> set[UUID]:
        return {rid for other in self.open if other is not uow for rid in other.locked}


class _Repo:
    def __init__(self, uow: FakeAutomationUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> AutomationStore:
        return self._uow.work

    def _org(self) -> UUID:
        if self._uow.organization_id is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._uow.organization_id


class FakeAutomationRepository(_Repo, AutomationRepository):
    def _automation(self, automation_id: UUID) -> Automation | None:
        found = self._db.automations.get(automation_id)
        return found if found is not None and found.organization_id == self._org() else None

    def _recipients(self, automation_id: UUID) -> list[Recipient]:
        org = self._org()
        return sorted((r for r in self._db.recipients.values()
                       if r.automation_id == automation_id and r.organization_id == org), key=lambda r: r.seq)

    async def add(self, automation: Automation) -> None:
        if automation.organization_id != self._org():
            raise RuntimeError("row-level security: automation of another organization")
        self._db.automations[automation.id] = copy.deepcopy(automation)

    async def get(self, automation_id: UUID, *, for_update: bool = False) -> Automation | None:
        found = self._automation(automation_id)
        return copy.deepcopy(found) if found is not None else None

    async def update(self, automation: Automation) -> None:
        if self._automation(automation.id) is not None:
            self._db.automations[automation.id] = copy.deepcopy(automation)

    async def count_unfinished_for_flow(self, flow_id: UUID) -> int:
        return sum(1 for a in self._db.automations.values()
                   if a.flow_id == flow_id and a.organization_id == self._org() and a.status.value in _UNFINISHED)

    async def add_recipients(self, recipients: Sequence[Recipient]) -> None:
        for recipient in recipients:
            if recipient.organization_id != self._org() or recipient.id in self._db.recipients:
                raise RuntimeError("automation_recipients: bad organization or duplicate id")
            if any(r.automation_id == recipient.automation_id and r.contact_id == recipient.contact_id
                   for r in self._db.recipients.values()):
                raise RuntimeError("automation_recipients: a contact twice in one automation")
            self._db.recipients[recipient.id] = copy.deepcopy(recipient)

    async def next_pending(self, automation_id: UUID, limit: int) -> list[Recipient]:
        held = self._uow._factory.locked_elsewhere(self._uow)
        found = [r for r in self._recipients(automation_id)
                 if r.state is RecipientState.PENDING and r.dispatched_at is None and r.id not in held][:limit]
        self._uow.locked.update(r.id for r in found)
        return copy.deepcopy(found)

    async def update_recipient(self, recipient: Recipient) -> None:
        stored = self._db.recipients.get(recipient.id)
        if stored is not None and stored.organization_id == self._org():
            self._db.recipients[recipient.id] = copy.deepcopy(recipient)

    async def update_recipients(self, recipients: Sequence[Recipient]) -> None:
        for recipient in recipients:
            await self.update_recipient(recipient)

    async def recipients_by_messages(self, message_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        wanted = set(message_ids)
        return {r.message_id: copy.deepcopy(r) for r in self._db.recipients.values()
                if r.message_id in wanted and r.organization_id == self._org()}

    async def pending_count(self, automation_id: UUID) -> int:
        return sum(1 for r in self._recipients(automation_id) if r.state is RecipientState.PENDING
                   and (r.dispatched_at is None or r.message_id is not None))

    async def recipients_of_contacts(self, contact_ids: Sequence[UUID], states: Sequence[RecipientState]
                                     ) -> dict[UUID, list[Recipient]]:
        found: dict[UUID, list[Recipient]] = {}
        for contact_id in contact_ids:
            if mine := await self.recipients_of_contact(contact_id, states):
                found[contact_id] = mine
        return found

    async def recipient_by_message(self, message_id: UUID) -> Recipient | None:
        found = next((r for r in self._db.recipients.values()
                      if r.message_id == message_id and r.organization_id == self._org()), None)
        return copy.deepcopy(found) if found is not None else None

    async def recipients_of_contact(self, contact_id: UUID, states: Sequence[RecipientState]) -> list[Recipient]:
        found = [r for r in self._db.recipients.values()
                 if r.organization_id == self._org() and r.contact_id == contact_id and r.state in states
                 and self._db.automations[r.automation_id].status.value in _LIVE]
        return copy.deepcopy(sorted(found, key=lambda r: r.updated_at))

    def _effective(self, recipient: Recipient) -> RecipientState:
        execution = self._db.execution_status.get(recipient.execution_id) if recipient.execution_id else None
        if execution == "completed":
            return RecipientState.COMPLETED
        if execution == "failed" and recipient.state is not RecipientState.SKIPPED:
            return RecipientState.FAILED
        return recipient.state

    async def list_recipients(self, automation_id: UUID, *, state: RecipientState | None, limit: int,
                              offset: int) -> tuple[list[Recipient], int]:
        shown = []
        for recipient in self._recipients(automation_id):
            effective = self._effective(recipient)
            if state is None or effective is state:
                shown.append(copy.deepcopy(recipient))
                shown[-1].state = effective
        return shown[offset:offset + limit], len(shown)

    async def counts(self, automation_id: UUID) -> AutomationCounts:
        tally = dict.fromkeys(("total", *(s.value for s in RecipientState), "dispatched"), 0)
        for recipient in self._recipients(automation_id):
            tally["total"] += 1
            tally[self._effective(recipient).value] += 1
            if recipient.dispatched_at is not None and recipient.state is not RecipientState.SKIPPED:
                tally["dispatched"] += 1
        opened = [self._db.messages.get(r.message_id) for r in self._recipients(automation_id) if r.message_id]
        accepted = [m.sent_at for m in opened if m is not None and m.sent_at is not None]
        return AutomationCounts(**tally, accepted=len(accepted), last_accepted_at=max(accepted, default=None))

    async def list(self, *, limit: int, offset: int) -> tuple[list[Automation], int]:
        mine = sorted((a for a in self._db.automations.values() if a.organization_id == self._org()),
                      key=lambda a: (a.created_at, a.id), reverse=True)
        return copy.deepcopy(mine[offset:offset + limit]), len(mine)


@dataclass(frozen=True)
class FlowStart:
    flow_id: UUID
    contact_id: UUID
    number_id: UUID
    variables: dict[str, Any]
    trigger: str
    automation_id: UUID | None
    execution_id: UUID | None


class FakeFlowStarter(FlowStarter):
    """Starts 'executions' that queue one opening text (like a flow whose first node sends a message);
    contacts in ``busy`` already run another flow (None)."""

    def __init__(self) -> None:
        self.starts: list[FlowStart] = []
        self.busy: set[UUID] = set()

    async def start(self, uow: UnitOfWork, *, flow_id: UUID, number: WhatsAppNumber, contact: Contact,
                    variables: Mapping[str, Any], trigger: str, automation_id: UUID | None,
                    now: datetime) -> UUID | None:
        execution_id = None if contact.id in self.busy else uuid4()
        self.starts.append(FlowStart(flow_id, contact.id, number.id, dict(variables), trigger, automation_id,
                                     execution_id))
        if execution_id is not None:
            store: AutomationStore = uow.work  # type: ignore[attr-defined]
            store.execution_status[execution_id] = "running"
            await queue_outbound(uow, number=number, contact=contact, kind="text",
                                 content={"text": f"flow opening for {contact.whatsapp_id}"}, now=now,
                                 source="flow")
        return execution_id
