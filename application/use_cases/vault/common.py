"""Shared pieces of the vault use cases: audit rows, version encryption, usage recording.

Audit rows name who, what, which secret, when and how it went (``details`` carries metadata such as
key names, versions and error codes: never a value). A mutation writes its success row in the same
transaction as the change; a refused mutation writes a failure row in a short transaction of its own.
Requests for an unknown (or another organization's) secret and wrong-role requests are not audited
against the secret and never counted in its usage.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from enum import StrEnum
from typing import TypeVar
from uuid import UUID, uuid4

import structlog

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import EncryptedValue, SecretCipher, VaultAuditEvent
from domain.errors import DomainError, InvalidValue, NotFound
from domain.vault import (
    Secret,
    SecretDecryptionFailed,
    SecretEnvironment,
    SecretNotFound,
    SecretService,
    SecretValue,
    VersionChange,
)

log = structlog.get_logger("pytake.vault")

T = TypeVar("T")
Details = Mapping[str, str | int | bool | None]
Work = Callable[[UnitOfWork, datetime], Awaitable[tuple[T, Details]]]


class AuditAction(StrEnum):
    VALUE_READ = "value.read"
    CREATE = "secret.create"
    UPDATE = "secret.update"
    DELETE = "secret.delete"
    ROTATE = "secret.rotate"
    ACTIVATE = "secret.activate"
    DEACTIVATE = "secret.deactivate"
    TEST = "secret.test"


class InvalidEnvironment(InvalidValue):
    code = "invalid_environment"
    default_message = "environment must be one of development, staging, production."


def parse_environment(text: str | None) -> SecretEnvironment | None:
    if text is None:
        return None
    try:
        return SecretEnvironment(text)
    except ValueError:
        raise InvalidEnvironment() from None


def parse_service(text: str | None) -> SecretService | None:
    return SecretService(text) if text is not None else None


def audit_event(*, actor: Actor | None, organization_id: UUID, action: AuditAction, secret_id: UUID | None,
                success: bool, now: datetime, details: Details | None = None) -> VaultAuditEvent:
    return VaultAuditEvent(id=uuid4(), organization_id=organization_id, secret_id=secret_id,
                           actor_user_id=actor.user_id if actor else None, action=action.value,
                           outcome="success" if success else "failure", created_at=now, details=dict(details or {}))


async def audit_failure(uow: UnitOfWorkFactory, *, actor: Actor, action: AuditAction, secret_id: UUID | None,
                        error: DomainError, now: datetime, details: Details | None = None) -> None:
    """A failure row in its own transaction; never masks the error being reported."""
    try:
        async with uow(actor.organization_id) as work:
            await work.vault_audit.record(audit_event(
                actor=actor, organization_id=actor.organization_id, action=action, secret_id=secret_id,
                success=False, now=now, details={**(details or {}), "error_code": error.code}))
            await work.commit()
    except Exception:  # noqa: BLE001 - the caller re-raises the original error
        log.warning("vault.audit_failure_not_recorded", action=action.value, error_code=error.code)


async def run_audited(uow: UnitOfWorkFactory, clock: Clock, actor: Actor, action: AuditAction,
                      secret_id: UUID | None, work: Work[T]) -> T:
    """Require MANAGE_SECRETS, run ``work`` in one transaction with its success audit row, or audit the failure.

    ``work`` returns (result, audit details); a result with an ``id`` names the secret when ``secret_id`` is None.
    """
    actor.require(Permission.MANAGE_SECRETS)
    now = clock.now()
    try:
        async with uow(actor.organization_id) as unit:
            result, details = await work(unit, now)
            target = secret_id if secret_id is not None else getattr(result, "id", None)
            await unit.vault_audit.record(audit_event(
                actor=actor, organization_id=actor.organization_id, action=action, secret_id=target, success=True,
                now=now, details=details))
            await unit.commit()
            return result
    except NotFound:
        raise
    except DomainError as error:
        await audit_failure(uow, actor=actor, action=action, secret_id=secret_id, error=error, now=now)
        raise


async def load_secret(unit: UnitOfWork, secret_id: UUID, *, for_update: bool = False) -> Secret:
    secret = await unit.secrets.get(secret_id, for_update=for_update)
    if secret is None:
        raise SecretNotFound()
    return secret


def encrypt_version(cipher: SecretCipher, secret: Secret, version: int, value: SecretValue) -> EncryptedValue:
    return cipher.encrypt(organization_id=secret.organization_id, secret_id=secret.id, version=version,
                          plaintext=value.reveal())


async def decrypt_current(unit: UnitOfWork, cipher: SecretCipher, secret: Secret) -> SecretValue:
    """The current version's value. No fallback to the previous version: a current version that fails its
    integrity check is an incident to surface (500 ``secret_decrypt_failed``), not something to paper over."""
    stored = await unit.secrets.load_version(secret.id, secret.current_version)
    if stored is None:
        raise SecretDecryptionFailed()
    return SecretValue(cipher.decrypt(organization_id=secret.organization_id, secret_id=secret.id,
                                      version=secret.current_version, value=stored))


async def store_new_version(unit: UnitOfWork, cipher: SecretCipher, secret: Secret, new_version: int | None,
                            released: tuple[int, ...], value: SecretValue, now: datetime) -> None:
    if new_version is not None:
        await unit.secrets.store_version(secret, new_version, encrypt_version(cipher, secret, new_version, value),
                                         now)
    await unit.secrets.release_versions(secret.id, released, now)


async def record_usage(uow: UnitOfWorkFactory, organization_id: UUID, secret_id: UUID, *, success: bool,
                       now: datetime) -> None:
    """Count one request in a short transaction of its own; a failure to count never fails the read."""
    try:
        async with uow(organization_id) as unit:
            await unit.secret_usage.record(secret_id, success=success, now=now)
            await unit.commit()
    except Exception:  # noqa: BLE001 - usage is best effort; the value was (or was not) served already
        log.warning("vault.usage_not_recorded", secret_id=str(secret_id), success=success)


class _Transition:
    action: AuditAction

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    def _apply(self, secret: Secret, now: datetime) -> VersionChange:
        raise NotImplementedError

    async def execute(self, actor: Actor, secret_id: UUID) -> Secret:
        async def work(uow: UnitOfWork, now: datetime) -> tuple[Secret, Details]:
            secret = await load_secret(uow, secret_id, for_update=True)
            before = secret.status
            change = self._apply(secret, now)
            await uow.secrets.release_versions(secret.id, change.released, now)
            await uow.secrets.update(secret)
            return secret, {"from": before.value, "to": secret.status.value}

        return await run_audited(self._uow, self._clock, actor, self.action, secret_id, work)
