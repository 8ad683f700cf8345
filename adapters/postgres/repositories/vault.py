"""Secrets, their encrypted versions, usage counters and the audit log (migration 0002_vault)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import execute_translated
from application.ports.vault import (
    EncryptedValue,
    SecretRepository,
    SecretUsage,
    SecretUsageRepository,
    StoredVersion,
    VaultAuditEvent,
    VaultAuditLog,
)
from domain.vault import (
    Secret,
    SecretEnvironment,
    SecretKey,
    SecretService,
    SecretStatus,
)

_UUID = PgUUID(as_uuid=True)
metadata = MetaData()

secrets = Table(
    "secrets", metadata,
    Column("id", _UUID, primary_key=True), Column("organization_id", _UUID, nullable=False),
    Column("key", Text, nullable=False), Column("environment", Text, nullable=False), Column("service", Text),
    Column("status", Text, nullable=False), Column("current_version", Integer, nullable=False),
    Column("previous_version", Integer), Column("last_rotated_at", DateTime(timezone=True)),
    Column("last_tested_at", DateTime(timezone=True)), Column("last_test_valid", Boolean),
    Column("created_by", _UUID), Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False), Column("deleted_at", DateTime(timezone=True)),
)
secret_versions = Table(
    "secret_versions", metadata,
    Column("secret_id", _UUID, primary_key=True), Column("version", Integer, primary_key=True),
    Column("organization_id", _UUID, nullable=False), Column("kek_version", Integer, nullable=False),
    Column("algorithm", Text, nullable=False), Column("wrapped_dek", LargeBinary), Column("dek_nonce", LargeBinary),
    Column("value_nonce", LargeBinary), Column("ciphertext", LargeBinary), Column("state", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False), Column("destroyed_at", DateTime(timezone=True)),
)
secret_usage = Table(
    "secret_usage", metadata,
    Column("secret_id", _UUID, primary_key=True), Column("organization_id", _UUID, nullable=False),
    Column("total_requests", Integer, nullable=False), Column("success_count", Integer, nullable=False),
    Column("failure_count", Integer, nullable=False), Column("last_used_at", DateTime(timezone=True)),
)
vault_audit_events = Table(
    "vault_audit_events", metadata,
    Column("id", _UUID, primary_key=True), Column("organization_id", _UUID, nullable=False),
    Column("secret_id", _UUID), Column("actor_user_id", _UUID), Column("action", Text, nullable=False),
    Column("outcome", Text, nullable=False), Column("details", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
_LIVE = secret_versions.c.state != "destroyed"


def _secret(row: Any) -> Secret:
    return Secret(
        id=row.id, organization_id=row.organization_id, key=SecretKey(row.key),
        environment=SecretEnvironment(row.environment), service=SecretService(row.service) if row.service else None,
        status=SecretStatus(row.status), current_version=row.current_version, previous_version=row.previous_version,
        last_rotated_at=row.last_rotated_at, last_tested_at=row.last_tested_at, last_test_valid=row.last_test_valid,
        created_by=row.created_by, created_at=row.created_at, updated_at=row.updated_at, deleted_at=row.deleted_at,
    )


def _values(secret: Secret) -> dict[str, Any]:
    return {"key": secret.key.value, "environment": secret.environment.value,
            "service": secret.service.value if secret.service else None, "status": secret.status.value,
            "current_version": secret.current_version, "previous_version": secret.previous_version,
            "last_rotated_at": secret.last_rotated_at, "last_tested_at": secret.last_tested_at,
            "last_test_valid": secret.last_test_valid, "updated_at": secret.updated_at,
            "deleted_at": secret.deleted_at}


def _encrypted(row: Any) -> EncryptedValue:
    return EncryptedValue(kek_version=row.kek_version, algorithm=row.algorithm, wrapped_dek=bytes(row.wrapped_dek),
                          dek_nonce=bytes(row.dek_nonce), value_nonce=bytes(row.value_nonce),
                          ciphertext=bytes(row.ciphertext))


class _Scoped:
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    def _org_id(self) -> UUID:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._org


class SqlAlchemySecretRepository(_Scoped, SecretRepository):
    def _mine(self) -> Any:
        return and_(secrets.c.organization_id == self._org_id(), secrets.c.deleted_at.is_(None))

    async def _write(self, statement: Any) -> Any:
        return await execute_translated(self._s, statement)

    async def add(self, secret: Secret) -> None:
        if secret.organization_id != self._org_id():
            raise RuntimeError("secret belongs to another organization")
        await self._write(insert(secrets).values(id=secret.id, organization_id=secret.organization_id,
                                                 created_by=secret.created_by, created_at=secret.created_at,
                                                 **_values(secret)))

    async def get(self, secret_id: UUID, *, for_update: bool = False) -> Secret | None:
        query = select(secrets).where(secrets.c.id == secret_id, self._mine())
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _secret(row) if row else None

    async def get_by_key(self, key: SecretKey, environment: SecretEnvironment,
                         service: SecretService | None) -> Secret | None:
        row = (await self._s.execute(select(secrets).where(
            self._mine(), secrets.c.key == key.value, secrets.c.environment == environment.value,
            func.coalesce(secrets.c.service, "") == (service.value if service else "")))).first()
        return _secret(row) if row else None

    async def with_key(self, key: SecretKey) -> list[Secret]:
        rows = (await self._s.execute(select(secrets).where(self._mine(), secrets.c.key == key.value))).all()
        return [_secret(r) for r in rows]

    async def search(self, *, environment: SecretEnvironment | None, service: SecretService | None, limit: int,
                     offset: int) -> tuple[list[Secret], int]:
        conditions = [self._mine()]
        if environment is not None:
            conditions.append(secrets.c.environment == environment.value)
        if service is not None:
            conditions.append(secrets.c.service == service.value)
        rows = (await self._s.execute(select(secrets).where(*conditions).order_by(
            secrets.c.key, secrets.c.environment, func.coalesce(secrets.c.service, ""), secrets.c.id)
            .limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(secrets.c.id).where(*conditions),
                                          key=("secrets", self._org_id(), environment, service))
        return [_secret(r) for r in rows], total

    async def update(self, secret: Secret) -> None:
        await self._write(update(secrets).where(secrets.c.id == secret.id,
                                                secrets.c.organization_id == self._org_id())
                          .values(**_values(secret)))

    async def store_version(self, secret: Secret, version: int, value: EncryptedValue, now: datetime) -> None:
        await self._s.execute(update(secret_versions).where(
            secret_versions.c.secret_id == secret.id, secret_versions.c.state == "current").values(state="previous"))
        await self._s.execute(insert(secret_versions).values(
            secret_id=secret.id, version=version, organization_id=self._org_id(), kek_version=value.kek_version,
            algorithm=value.algorithm, wrapped_dek=value.wrapped_dek, dek_nonce=value.dek_nonce,
            value_nonce=value.value_nonce, ciphertext=value.ciphertext, state="current", created_at=now))

    async def load_version(self, secret_id: UUID, version: int) -> EncryptedValue | None:
        row = (await self._s.execute(select(secret_versions).where(
            secret_versions.c.secret_id == secret_id, secret_versions.c.version == version,
            secret_versions.c.organization_id == self._org_id(), _LIVE))).first()
        return _encrypted(row) if row else None

    async def release_versions(self, secret_id: UUID, versions: Sequence[int], now: datetime) -> None:
        if not versions:
            return
        await self._s.execute(update(secret_versions).where(
            secret_versions.c.secret_id == secret_id, secret_versions.c.version.in_(list(versions)), _LIVE,
        ).values(state="destroyed", destroyed_at=now, wrapped_dek=None, dek_nonce=None, value_nonce=None,
                 ciphertext=None))

    async def versions_below(self, kek_version: int, limit: int) -> list[StoredVersion]:
        rows = (await self._s.execute(
            select(secret_versions).where(secret_versions.c.kek_version < kek_version, _LIVE)
            .order_by(secret_versions.c.secret_id, secret_versions.c.version).limit(limit)
            .with_for_update(skip_locked=True))).all()
        return [StoredVersion(organization_id=r.organization_id, secret_id=r.secret_id, version=r.version,
                              value=_encrypted(r)) for r in rows]

    async def count_versions_below(self, kek_version: int) -> int:
        return int((await self._s.execute(select(func.count()).select_from(secret_versions).where(
            secret_versions.c.kek_version < kek_version, _LIVE))).scalar_one())

    async def rewrap_version(self, stored: StoredVersion, value: EncryptedValue) -> None:
        if value.ciphertext != stored.value.ciphertext or value.value_nonce != stored.value.value_nonce:
            raise RuntimeError("a re-wrap must leave the value ciphertext untouched")
        await self._s.execute(update(secret_versions).where(
            secret_versions.c.secret_id == stored.secret_id, secret_versions.c.version == stored.version, _LIVE,
        ).values(kek_version=value.kek_version, wrapped_dek=value.wrapped_dek, dek_nonce=value.dek_nonce))

    async def kek_versions_in_use(self) -> frozenset[int]:
        rows = (await self._s.execute(select(secret_versions.c.kek_version).where(_LIVE).distinct())).all()
        return frozenset(int(r.kek_version) for r in rows)


def _usage(row: Any, secret_id: UUID | None = None) -> SecretUsage:
    return SecretUsage(secret_id=secret_id or row.secret_id, total_requests=int(row.total_requests or 0),
                       success_count=int(row.success_count or 0), failure_count=int(row.failure_count or 0),
                       last_used_at=row.last_used_at)


class SqlAlchemySecretUsageRepository(_Scoped, SecretUsageRepository):
    async def record(self, secret_id: UUID, *, success: bool, now: datetime) -> None:
        await self.record_many(secret_id, successes=int(success), failures=int(not success), now=now)

    async def record_many(self, secret_id: UUID, *, successes: int, failures: int, now: datetime) -> None:
        if successes + failures <= 0:
            return
        statement = pg_insert(secret_usage).values(
            secret_id=secret_id, organization_id=self._org_id(), total_requests=successes + failures,
            success_count=successes, failure_count=failures, last_used_at=now)
        await self._s.execute(statement.on_conflict_do_update(index_elements=[secret_usage.c.secret_id], set_={
            "total_requests": secret_usage.c.total_requests + statement.excluded.total_requests,
            "success_count": secret_usage.c.success_count + statement.excluded.success_count,
            "failure_count": secret_usage.c.failure_count + statement.excluded.failure_count,
            "last_used_at": func.greatest(secret_usage.c.last_used_at, statement.excluded.last_used_at)}))

    async def reclassify_as_failure(self, secret_id: UUID, now: datetime) -> None:
        moved = await self._s.execute(update(secret_usage).where(
            secret_usage.c.secret_id == secret_id, secret_usage.c.organization_id == self._org_id(),
            secret_usage.c.success_count > 0,
        ).values(success_count=secret_usage.c.success_count - 1, failure_count=secret_usage.c.failure_count + 1)
            .returning(secret_usage.c.secret_id))
        if moved.first() is None:
            await self.record(secret_id, success=False, now=now)

    async def get(self, secret_id: UUID) -> SecretUsage:
        row = (await self._s.execute(select(secret_usage).where(
            secret_usage.c.secret_id == secret_id, secret_usage.c.organization_id == self._org_id()))).first()
        return _usage(row) if row else SecretUsage(secret_id=secret_id)

    async def list_for_organization(self, *, limit: int, offset: int) -> tuple[list[SecretUsage], int]:
        mine = and_(secrets.c.organization_id == self._org_id(), secrets.c.deleted_at.is_(None))
        joined = secrets.outerjoin(secret_usage, secret_usage.c.secret_id == secrets.c.id)
        rows = (await self._s.execute(
            select(secrets.c.id.label("sid"), secret_usage.c.total_requests, secret_usage.c.success_count,
                   secret_usage.c.failure_count, secret_usage.c.last_used_at).select_from(joined).where(mine)
            .order_by(secrets.c.key, secrets.c.environment, func.coalesce(secrets.c.service, ""), secrets.c.id)
            .limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(secrets.c.id).where(mine),
                                          key=("secret_usage", self._org_id()))
        return [_usage(r, r.sid) for r in rows], total


class SqlAlchemyVaultAuditLog(_Scoped, VaultAuditLog):
    async def record(self, event: VaultAuditEvent) -> None:
        if event.organization_id != self._org_id():
            raise RuntimeError("audit event belongs to another organization")
        await self._s.execute(insert(vault_audit_events).values(
            id=event.id, organization_id=event.organization_id, secret_id=event.secret_id,
            actor_user_id=event.actor_user_id, action=event.action, outcome=event.outcome,
            details=dict(event.details), created_at=event.created_at))

