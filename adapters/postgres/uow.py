"""The unit of work on an AsyncSession: tenant settings for row-level security, repositories, jobs."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from uuid import UUID

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import is_connection_problem, is_transaction_conflict
from adapters.postgres.jobs import PgQueuerJobQueue
from adapters.postgres.repositories.automations import SqlAlchemyAutomationRepository
from adapters.postgres.repositories.channel import (
    SqlAlchemyConversationRepository,
    SqlAlchemyMessageRepository,
    SqlAlchemyWhatsAppNumberRepository,
)
from adapters.postgres.repositories.contact_imports import SqlAlchemyContactImportRepository
from adapters.postgres.repositories.contacts import SqlAlchemyContactRepository
from adapters.postgres.repositories.events import SqlAlchemyEventLog, SqlAlchemyEventTicketRepository
from adapters.postgres.repositories.flows import SqlAlchemyFlowExecutionRepository, SqlAlchemyFlowRepository
from adapters.postgres.repositories.identity import SqlAlchemyOrganizationRepository, SqlAlchemyUserRepository
from adapters.postgres.repositories.media import SqlAlchemyMediaUploadRepository
from adapters.postgres.repositories.outbox import SqlAlchemyOutbox
from adapters.postgres.repositories.sessions import (
    SqlAlchemyLoginThrottle,
    SqlAlchemyPasswordResetTokenRepository,
    SqlAlchemySessionRepository,
)
from adapters.postgres.repositories.templates import SqlAlchemyMessageTemplateRepository
from adapters.postgres.repositories.vault import (
    SqlAlchemySecretRepository,
    SqlAlchemySecretUsageRepository,
    SqlAlchemyVaultAuditLog,
)
from adapters.postgres.repositories.webhooks import SqlAlchemyWebhookEventStore
from application.ports.uow import DatabaseUnavailable, TransactionConflict, UnitOfWork, UnitOfWorkFactory
from domain.errors import Unavailable

_SET_TENANT = text("SELECT set_config('pytake.org_id', :org, true), set_config('pytake.scope', :scope, true)")


class SqlAlchemyUnitOfWork(UnitOfWork):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], organization_id: UUID | None,
                 counter: ListCounter) -> None:
        self._factory, self._counter = session_factory, counter
        self.organization_id = organization_id
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("unit of work not entered")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._factory()
        tenant = {"org": str(self.organization_id) if self.organization_id else "",
                  "scope": "tenant" if self.organization_id else "system"}

        def _set_tenant(_session: Any, _transaction: Any, connection: Any) -> None:
            # every transaction of this unit of work, the one after a commit() too, runs with its tenant set
            # (transaction-local settings): row-level security never sees a transaction without it
            connection.execute(_SET_TENANT, tenant)

        event.listen(self._session.sync_session, "after_begin", _set_tenant)
        try:
            await self._session.connection()  # begins the first transaction: the tenant is set in one statement
        except Exception as e:
            await self._session.close()
            if is_connection_problem(e):
                raise DatabaseUnavailable() from e
            raise
        s, org, counter = self._session, self.organization_id, self._counter
        self.organizations = SqlAlchemyOrganizationRepository(s)
        self.users = SqlAlchemyUserRepository(s, org, counter=counter)
        self.sessions = SqlAlchemySessionRepository(s)
        self.login_throttle = SqlAlchemyLoginThrottle(s)
        self.reset_tokens = SqlAlchemyPasswordResetTokenRepository(s)
        self.contacts = SqlAlchemyContactRepository(s, org, counter=counter)
        self.contact_imports = SqlAlchemyContactImportRepository(s, org, counter=counter)
        self.jobs = PgQueuerJobQueue(s)
        self.secrets = SqlAlchemySecretRepository(s, org, counter=counter)
        self.secret_usage = SqlAlchemySecretUsageRepository(s, org, counter=counter)
        self.vault_audit = SqlAlchemyVaultAuditLog(s, org)
        self.numbers = SqlAlchemyWhatsAppNumberRepository(s, org, counter=counter)
        self.media = SqlAlchemyMediaUploadRepository(s, org)
        self.conversations = SqlAlchemyConversationRepository(s, org)
        self.messages = SqlAlchemyMessageRepository(s, org, counter=counter)
        self.outbox = SqlAlchemyOutbox(s, org)
        self.webhook_events = SqlAlchemyWebhookEventStore(s)
        self.flows = SqlAlchemyFlowRepository(s, org, counter=counter)
        self.flow_executions = SqlAlchemyFlowExecutionRepository(s, org, counter=counter)
        self.automations = SqlAlchemyAutomationRepository(s, org, counter=counter)
        self.templates = SqlAlchemyMessageTemplateRepository(s, org)
        self.events = SqlAlchemyEventLog(s, org)
        self.event_tickets = SqlAlchemyEventTicketRepository(s)
        return self

    async def commit(self) -> None:
        try:
            await self.events.flush()  # last: the organizations' event locks are held only until the commit
            await self.session.commit()
        except Exception as e:
            if is_connection_problem(e):
                raise DatabaseUnavailable() from e
            if is_transaction_conflict(e):
                raise TransactionConflict() from e
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        session = self.session
        try:
            await session.rollback()
        except Exception:  # noqa: BLE001 - the connection may already be gone; closing below cleans up
            pass
        finally:
            await session.close()
            self._session = None
        if exc is not None and not isinstance(exc, Unavailable):
            if is_connection_problem(exc):
                raise DatabaseUnavailable() from exc
            if is_transaction_conflict(exc):
                raise TransactionConflict() from exc


class SqlAlchemyUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession], *,
                 counter: ListCounter | None = None) -> None:
        self._factory = session_factory
        self.counter = counter or ListCounter()

    def __call__(self, organization_id: UUID | None = None) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self._factory, organization_id, self.counter)


