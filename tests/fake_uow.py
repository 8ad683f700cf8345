"""The one fake unit of work: every table in one :class:`FakeStore`, every repository of the port on it.

The fake repositories live beside their neighbours (``tests/fakes.py``: identity, contacts and imports;
``fakes_channel.py``: numbers, conversations, messages, webhooks, the outbox; ``fakes_flows.py``: flows and
executions; ``fakes_automations.py``; ``fakes_vault.py``); each subclasses its port and works on the copy of
the store its unit of work holds. Nothing is kept without ``commit()``, and a unit of work that commits after
another one committed meanwhile is refused (the fake does not merge transactions)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from application.ports.channel import StatusEvent
from application.ports.events import EventTicket, StoredEvent
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.automations import Automation, Recipient
from domain.channel import Conversation, Message, WhatsAppNumber
from domain.contact_imports import ContactImport
from domain.contacts import Contact
from domain.flows.records import Flow, FlowExecution, FlowVersion
from domain.identity import Organization, User
from domain.media import MediaUpload
from domain.templates import MessageTemplate
from domain.vault import Secret
from tests.fakes import (
    FakeContactImportRepository,
    FakeContactRepository,
    FakeJobQueue,
    FakeLoginThrottle,
    FakeOrganizationRepository,
    FakePasswordResetTokenRepository,
    FakeSessionRepository,
    FakeUserRepository,
    QueuedJob,
    RefreshTokenRow,
    ResetTokenRow,
    SessionRow,
    ThrottleRow,
    clone_row,
)
from tests.fakes_automations import FakeAutomationRepository
from tests.fakes_channel import (
    FakeConversationRepository,
    FakeMediaUploadRepository,
    FakeMessageRepository,
    FakeNumberRepository,
    FakeOutbox,
    FakeWebhookEventStore,
    StatusRow,
    WebhookRow,
)
from tests.fakes_events import FakeEventLog, FakeEventTicketRepository
from tests.fakes_flows import FakeFlowExecutionRepository, FakeFlowRepository
from tests.fakes_templates import FakeMessageTemplateRepository
from tests.fakes_vault import FakeSecretRepository, FakeSecretUsageRepository, FakeVaultAuditLog, VersionRow

_ROWS_CLONED = ("organizations", "users", "sessions", "refresh_tokens", "throttle", "reset_tokens", "contacts",
                "contact_imports", "import_files")
"""Tables whose rows :func:`tests.fakes.clone_row` copies correctly (ten times faster than a deep copy, which
the hypothesis state machines feel); every other table is deep-copied."""


@dataclass
class FakeStore:
    """Every table the fakes keep, keyed like the database's primary or unique keys."""

    # identity
    organizations: dict[UUID, Organization] = field(default_factory=dict)
    users: dict[UUID, User] = field(default_factory=dict)
    sessions: dict[UUID, SessionRow] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshTokenRow] = field(default_factory=dict)  # by token_hash
    denied_jtis: dict[str, datetime] = field(default_factory=dict)
    throttle: dict[str, ThrottleRow] = field(default_factory=dict)
    reset_tokens: dict[str, ResetTokenRow] = field(default_factory=dict)  # by token_hash
    # contacts
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    contact_imports: dict[UUID, ContactImport] = field(default_factory=dict)
    import_files: dict[UUID, bytes] = field(default_factory=dict)
    # channel
    numbers: dict[UUID, WhatsAppNumber] = field(default_factory=dict)
    conversations: dict[UUID, Conversation] = field(default_factory=dict)
    messages: dict[UUID, Message] = field(default_factory=dict)
    status_events: list[StatusRow] = field(default_factory=list)
    webhook_events: dict[UUID, WebhookRow] = field(default_factory=dict)
    media: dict[UUID, tuple[MediaUpload, bytes | None]] = field(default_factory=dict)  # upload, its file
    admissions: dict[tuple[str, datetime], int] = field(default_factory=dict)  # (key, second) -> sends
    message_seq: dict[UUID, int] = field(default_factory=dict)  # the order messages were queued in
    # flows
    flows: dict[UUID, Flow] = field(default_factory=dict)
    versions: dict[tuple[UUID, int], FlowVersion] = field(default_factory=dict)
    executions: dict[UUID, FlowExecution] = field(default_factory=dict)
    execution_status: dict[UUID, str] = field(default_factory=dict)  # flows started by FakeFlowStarter
    # automations
    automations: dict[UUID, Automation] = field(default_factory=dict)
    recipients: dict[UUID, Recipient] = field(default_factory=dict)
    # message templates
    templates: dict[UUID, MessageTemplate] = field(default_factory=dict)
    # vault
    secrets: dict[UUID, Secret] = field(default_factory=dict)
    secret_versions: dict[tuple[UUID, int], VersionRow] = field(default_factory=dict)
    usage: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    audit: list[Any] = field(default_factory=list)
    # live events
    events: list[tuple[StoredEvent, datetime | None]] = field(default_factory=list)
    event_seq: int = 0
    event_purged: dict[UUID, int] = field(default_factory=dict)
    event_tickets: dict[str, EventTicket] = field(default_factory=dict)
    # the job queue (PgQueuer's table and NOTIFY wake-ups)
    job_queue: FakeJobQueue = field(default_factory=FakeJobQueue)
    version: int = 0

    @property
    def jobs(self) -> FakeJobQueue:
        return self.job_queue

    @property
    def queued(self) -> list[QueuedJob]:
        return self.job_queue.jobs

    def history(self, message_id: UUID) -> list[StatusEvent]:
        return [row.event for row in self.status_events if row.message_id == message_id]

    def load(self, other: FakeStore) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(other, f.name))

    def clone(self) -> FakeStore:
        """A copy sharing nothing mutable."""
        copied = FakeStore(version=self.version)
        for f in fields(self):
            if f.name in _ROWS_CLONED:
                setattr(copied, f.name, {key: clone_row(row) for key, row in getattr(self, f.name).items()})
            elif f.name == "job_queue":
                copied.job_queue = self.job_queue.clone()
            elif f.name != "version":
                setattr(copied, f.name, copy.deepcopy(getattr(self, f.name)))
        return copied


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, factory: FakeUnitOfWorkFactory, organization_id: UUID | None) -> None:
        self._factory = factory
        self.organization_id = organization_id
        self._work: FakeStore | None = None
        self._base_version = -1
        self.locked: set[UUID] = set()  # automation recipients this unit of work holds (FOR UPDATE)
        self.commits = 0

    @property
    def work(self) -> FakeStore:
        if self._work is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._work

    @property
    def factory(self) -> FakeUnitOfWorkFactory:
        return self._factory

    async def __aenter__(self) -> Self:
        if self._work is not None:
            raise RuntimeError("unit of work entered twice")
        if self._factory.fail_next_open:
            self._factory.fail_next_open -= 1
            raise RuntimeError("database down")
        self._work = self._factory.store.clone()
        self._base_version = self._factory.store.version
        self._factory.open.append(self)
        self.organizations = FakeOrganizationRepository(self)
        self.users = FakeUserRepository(self)
        self.sessions = FakeSessionRepository(self)
        self.login_throttle = FakeLoginThrottle(self)
        self.reset_tokens = FakePasswordResetTokenRepository(self)
        self.contacts = FakeContactRepository(self)
        self.contact_imports = FakeContactImportRepository(self)
        self.numbers = FakeNumberRepository(self)
        self.conversations = FakeConversationRepository(self)
        self.messages = FakeMessageRepository(self)
        self.webhook_events = FakeWebhookEventStore(self)
        self.outbox = FakeOutbox(self)
        self.media = FakeMediaUploadRepository(self)
        self.flows = FakeFlowRepository(self)
        self.flow_executions = FakeFlowExecutionRepository(self)
        self.automations = FakeAutomationRepository(self)
        self.secrets = FakeSecretRepository(self)
        self.secret_usage = FakeSecretUsageRepository(self)
        self.vault_audit = FakeVaultAuditLog(self)
        self.templates = FakeMessageTemplateRepository(self)
        self.events = FakeEventLog(self)
        self.event_tickets = FakeEventTicketRepository(self)
        self.jobs = self._work.job_queue
        return self

    async def commit(self) -> None:
        if self._factory.fail_commits:
            raise RuntimeError("commit failed")
        store = self._factory.store
        if store.version != self._base_version:
            raise RuntimeError("another unit of work committed meanwhile; the fake does not merge transactions")
        store.load(self.work.clone())
        store.version = self._base_version = self._base_version + 1
        self.commits += 1
        self._factory.commits += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None  # whatever was not committed is dropped with the copy
        self.locked.clear()
        if self in self._factory.open:
            self._factory.open.remove(self)


class FakeUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, store: FakeStore | None = None) -> None:
        self.store = store if store is not None else FakeStore()
        self.commits = 0
        self.opened: list[UUID | None] = []  # the organization of every unit of work opened, in order
        self.open: list[FakeUnitOfWork] = []  # the units of work inside their 'async with' now
        self.conflicting_numbers: set[str] = set()  # contact imports of these numbers fail (TransactionConflict)
        self.fail_commits = False
        self.fail_next_open = 0
        self.fail_audit = False

    def __call__(self, organization_id: UUID | None = None) -> FakeUnitOfWork:
        self.opened.append(organization_id)
        return FakeUnitOfWork(self, organization_id)

    def locked_elsewhere(self, uow: FakeUnitOfWork) -> set[UUID]:
        return {rid for other in self.open if other is not uow for rid in other.locked}
