"""The unit of work: one transaction, the repositories bound to it, and the job queue in it."""

from __future__ import annotations

from abc import abstractmethod
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from application.ports.automations import AutomationRepository
from application.ports.channel import (
    ConversationRepository,
    MessageRepository,
    Outbox,
    WebhookEventStore,
    WhatsAppNumberRepository,
)
from application.ports.common import JobQueue
from application.ports.contact_imports import ContactImportRepository
from application.ports.contacts import ContactRepository
from application.ports.events import EventLog, EventTicketRepository
from application.ports.flows import FlowExecutionRepository, FlowRepository
from application.ports.identity import (
    LoginThrottle,
    OrganizationRepository,
    PasswordResetTokenRepository,
    SessionRepository,
    UserRepository,
)
from application.ports.media_uploads import MediaUploadRepository
from application.ports.templates import MessageTemplateRepository
from application.ports.vault import SecretRepository, SecretUsageRepository, VaultAuditLog
from domain.errors import Unavailable


class UnitOfWork(Protocol):
    """Opened with ``async with``; nothing is kept unless ``commit()`` is awaited.

    Organization-scoped repositories only see the organization the unit of work was opened for
    (and the database's row-level security enforces the same); a unit of work opened without
    an organization is the *system* scope used by login, webhook routing and the worker.
    """

    organization_id: UUID | None
    organizations: OrganizationRepository
    users: UserRepository
    sessions: SessionRepository
    login_throttle: LoginThrottle
    reset_tokens: PasswordResetTokenRepository
    contacts: ContactRepository
    contact_imports: ContactImportRepository
    numbers: WhatsAppNumberRepository
    media: MediaUploadRepository
    conversations: ConversationRepository
    messages: MessageRepository
    outbox: Outbox
    webhook_events: WebhookEventStore
    automations: AutomationRepository
    templates: MessageTemplateRepository
    flows: FlowRepository
    flow_executions: FlowExecutionRepository
    secrets: SecretRepository
    secret_usage: SecretUsageRepository
    vault_audit: VaultAuditLog
    events: EventLog
    event_tickets: EventTicketRepository
    jobs: JobQueue

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def __aenter__(self) -> Self: ...

    @abstractmethod
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Always rolls back what was not committed."""


class UnitOfWorkFactory(Protocol):
    @abstractmethod
    def __call__(self, organization_id: UUID | None = None) -> UnitOfWork: ...


class DatabaseUnavailable(Unavailable):
    """The database cannot be reached right now (down, restarting, refusing connections): HTTP 503."""

    code = "database_unavailable"
    default_message = "The database is unavailable; try again shortly."


class TransactionConflict(Unavailable):
    """The database gave up on the transaction to resolve a conflict with another one (a deadlock, a
    serialization failure): the same work succeeds when tried again."""

    code = "transaction_conflict"
    default_message = "The request collided with another one; try again."
