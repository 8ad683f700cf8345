"""In-memory doubles of the vault's ports: a unit of work with secrets, versions, usage and audit repositories
that mirror the PostgreSQL adapters (organization scoping, the partial unique index with NULL service counted
as equal, destroyed versions erased, copy-on-commit transactions), plus a stub provider checker."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from application.ports.events import EventTicket, StoredEvent
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import (
    CredentialCheck,
    EncryptedValue,
    ProviderCredentialChecker,
    SecretRepository,
    SecretUsage,
    SecretUsageRepository,
    StoredVersion,
    VaultAuditEvent,
    VaultAuditLog,
)
from domain.vault import Secret, SecretAlreadyExists, SecretEnvironment, SecretKey, SecretService
from tests.fakes import FakeLoginThrottle, ThrottleRow
from tests.fakes_events import FakeEventLog, FakeEventTicketRepository


@dataclass
class VersionRow:
    organization_id: UUID
    value: EncryptedValue | None
    state: str
    created_at: datetime
    destroyed_at: datetime | None = None


@dataclass
class VaultStore:
    secrets: dict[UUID, Secret] = field(default_factory=dict)
    versions: dict[tuple[UUID, int], VersionRow] = field(default_factory=dict)
    usage: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    audit: list[VaultAuditEvent] = field(default_factory=list)
    throttle: dict[str, ThrottleRow] = field(default_factory=dict)
    events: list[tuple[StoredEvent, datetime | None]] = field(default_factory=list)
    event_seq: int = 0
    event_purged: dict[UUID, int] = field(default_factory=dict)
    event_tickets: dict[str, EventTicket] = field(default_factory=dict)


class FakeVaultUnitOfWork(UnitOfWork):
    def __init__(self, factory: FakeVaultUnitOfWorkFactory, organization_id: UUID | None) -> None:
        self._factory, self.organization_id = factory, organization_id
        self._work: VaultStore | None = None

    @property
    def work(self) -> VaultStore:
        if self._work is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._work

    async def __aenter__(self) -> Self:
        if self._factory.fail_next_open:
            self._factory.fail_next_open -= 1
            raise RuntimeError("database down")
        self._work = copy.deepcopy(self._factory.store)
        self.secrets = FakeSecretRepository(self)
        self.secret_usage = FakeSecretUsageRepository(self)
        self.vault_audit = FakeVaultAuditLog(self)
        self.login_throttle = FakeLoginThrottle(self)  # type: ignore[arg-type]  # it needs .work.throttle only
        self.events = FakeEventLog(self)
        self.event_tickets = FakeEventTicketRepository(self)
        return self

    async def commit(self) -> None:
        if self._factory.fail_commits:
            raise RuntimeError("commit failed")
        self._factory.store = copy.deepcopy(self.work)
        self._factory.commits += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None


class FakeVaultUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self) -> None:
        self.store = VaultStore()
        self.commits = 0
        self.fail_commits = False
        self.fail_next_open = 0
        self.fail_audit = False

    def __call__(self, organization_id: UUID | None = None) -> FakeVaultUnitOfWork:
        return FakeVaultUnitOfWork(self, organization_id)  # type: ignore[abstract]  # vault repositories only


class _Repo:
    def __init__(self, uow: FakeVaultUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> VaultStore:
        return self._uow.work

    def _visible(self, organization_id: UUID) -> bool:
        return self._uow.organization_id is None or organization_id == self._uow.organization_id

    def _org(self) -> UUID:
        if self._uow.organization_id is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._uow.organization_id


def _identity(secret: Secret) -> tuple[UUID, str, str, str]:
    return (secret.organization_id, secret.key.value, secret.environment.value,
            secret.service.value if secret.service else "")


class FakeSecretRepository(_Repo, SecretRepository):
    def _check_unique(self, secret: Secret) -> None:
        for other in self._db.secrets.values():
            if other.id != secret.id and other.deleted_at is None and secret.deleted_at is None \
                    and _identity(other) == _identity(secret):
                raise SecretAlreadyExists()

    def _mine(self) -> list[Secret]:
        org = self._org()
        return [s for s in self._db.secrets.values() if s.organization_id == org and s.deleted_at is None]

    async def add(self, secret: Secret) -> None:
        if secret.organization_id != self._org():
            raise RuntimeError("secret belongs to another organization")
        self._check_unique(secret)
        self._db.secrets[secret.id] = copy.deepcopy(secret)

    async def get(self, secret_id: UUID, *, for_update: bool = False) -> Secret | None:
        return next((copy.deepcopy(s) for s in self._mine() if s.id == secret_id), None)

    async def get_by_key(self, key: SecretKey, environment: SecretEnvironment,
                         service: SecretService | None) -> Secret | None:
        wanted = (self._org(), key.value, environment.value, service.value if service else "")
        return next((copy.deepcopy(s) for s in self._mine() if _identity(s) == wanted), None)

    async def with_key(self, key: SecretKey) -> list[Secret]:
        return [copy.deepcopy(s) for s in self._mine() if s.key == key]

    async def search(self, *, environment: SecretEnvironment | None, service: SecretService | None, limit: int,
                     offset: int) -> tuple[list[Secret], int]:
        found = [s for s in self._mine() if (environment is None or s.environment is environment)
                 and (service is None or s.service == service)]
        found.sort(key=lambda s: (s.key.value, s.environment.value, s.service.value if s.service else "", s.id))
        return copy.deepcopy(found[offset:offset + limit]), len(found)

    async def update(self, secret: Secret) -> None:
        stored = self._db.secrets.get(secret.id)
        if stored is None or stored.organization_id != self._org():
            return
        self._check_unique(secret)
        self._db.secrets[secret.id] = copy.deepcopy(secret)

    async def store_version(self, secret: Secret, version: int, value: EncryptedValue, now: datetime) -> None:
        if (secret.id, version) in self._db.versions:
            raise RuntimeError("duplicate version (primary key)")
        for (sid, _), row in self._db.versions.items():
            if sid == secret.id and row.state == "current":
                row.state = "previous"
        self._db.versions[(secret.id, version)] = VersionRow(self._org(), value, "current", now)

    async def load_version(self, secret_id: UUID, version: int) -> EncryptedValue | None:
        row = self._db.versions.get((secret_id, version))
        if row is None or row.state == "destroyed" or row.organization_id != self._org():
            return None
        return row.value

    async def release_versions(self, secret_id: UUID, versions: Sequence[int], now: datetime) -> None:
        for version in versions:
            row = self._db.versions.get((secret_id, version))
            if row is not None and row.state != "destroyed" and self._visible(row.organization_id):
                row.state, row.value, row.destroyed_at = "destroyed", None, now

    def _live_below(self, kek_version: int) -> list[tuple[tuple[UUID, int], VersionRow]]:
        return sorted(((k, r) for k, r in self._db.versions.items() if r.value is not None
                       and r.value.kek_version < kek_version and self._visible(r.organization_id)),
                      key=lambda item: (str(item[0][0]), item[0][1]))

    async def versions_below(self, kek_version: int, limit: int) -> list[StoredVersion]:
        return [StoredVersion(organization_id=r.organization_id, secret_id=k[0], version=k[1], value=r.value)
                for k, r in self._live_below(kek_version)[:limit] if r.value is not None]

    async def count_versions_below(self, kek_version: int) -> int:
        return len(self._live_below(kek_version))

    async def rewrap_version(self, stored: StoredVersion, value: EncryptedValue) -> None:
        row = self._db.versions[(stored.secret_id, stored.version)]
        assert row.value is not None and row.value.ciphertext == value.ciphertext
        row.value = value

    async def kek_versions_in_use(self) -> frozenset[int]:
        return frozenset(r.value.kek_version for r in self._db.versions.values()
                         if r.value is not None and self._visible(r.organization_id))


class FakeSecretUsageRepository(_Repo, SecretUsageRepository):
    def _row(self, secret_id: UUID) -> dict[str, Any]:
        return self._db.usage.setdefault(secret_id, {"org": self._org(), "total": 0, "ok": 0, "ko": 0, "last": None})

    async def record(self, secret_id: UUID, *, success: bool, now: datetime) -> None:
        await self.record_many(secret_id, successes=int(success), failures=int(not success), now=now)

    async def record_many(self, secret_id: UUID, *, successes: int, failures: int, now: datetime) -> None:
        if successes + failures <= 0:
            return
        row = self._row(secret_id)
        row["total"] += successes + failures
        row["ok"] += successes
        row["ko"] += failures
        row["last"] = max(row["last"], now) if row["last"] else now

    async def reclassify_as_failure(self, secret_id: UUID, now: datetime) -> None:
        row = self._db.usage.get(secret_id)
        if row is not None and row["org"] == self._org() and row["ok"] > 0:
            row["ok"] -= 1
            row["ko"] += 1
        else:
            await self.record(secret_id, success=False, now=now)

    def _usage(self, secret_id: UUID) -> SecretUsage:
        row = self._db.usage.get(secret_id)
        if row is None or row["org"] != self._org():
            return SecretUsage(secret_id=secret_id)
        return SecretUsage(secret_id=secret_id, total_requests=row["total"], success_count=row["ok"],
                           failure_count=row["ko"], last_used_at=row["last"])

    async def get(self, secret_id: UUID) -> SecretUsage:
        return self._usage(secret_id)

    async def list_for_organization(self, *, limit: int, offset: int) -> tuple[list[SecretUsage], int]:
        org = self._org()
        mine = sorted((s for s in self._db.secrets.values() if s.organization_id == org and s.deleted_at is None),
                      key=lambda s: (s.key.value, s.environment.value, s.service.value if s.service else "", s.id))
        return [self._usage(s.id) for s in mine[offset:offset + limit]], len(mine)


class FakeVaultAuditLog(_Repo, VaultAuditLog):
    async def record(self, event: VaultAuditEvent) -> None:
        if self._uow._factory.fail_audit:
            raise RuntimeError("audit table unavailable")
        if event.organization_id != self._org():
            raise RuntimeError("audit event belongs to another organization")
        self._db.audit.append(event)


class StubCredentialChecker(ProviderCredentialChecker):
    def __init__(self, answer: CredentialCheck | None = None) -> None:
        self.answer = answer or CredentialCheck(True, "token accepted")
        self.tokens: list[str] = []

    async def check_whatsapp_token(self, token: str) -> CredentialCheck:
        self.tokens.append(token)
        return self.answer
