"""``GET /secrets/{id}/value``: the audited read of a value.

The audit row is written first, in the transaction that must commit before the value is returned:
if it cannot be written the read fails closed. Usage is counted afterwards in a short transaction of
its own that never fails the read. Inactive secrets and decryption failures are refused, audited as
failures and counted as failed requests.
"""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.common import (
    AuditAction,
    audit_event,
    audit_failure,
    decrypt_current,
    load_secret,
    record_usage,
)
from domain.errors import DomainError
from domain.vault import MasterKeyMissing, SecretDecryptionFailed, SecretInactive, SecretValue


class RevealSecretValue:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock) -> None:
        self._uow, self._cipher, self._clock = uow, cipher, clock

    async def execute(self, actor: Actor, secret_id: UUID) -> SecretValue:
        actor.require(Permission.MANAGE_SECRETS)
        now, org = self._clock.now(), actor.organization_id
        refused: DomainError | None = None
        async with self._uow(org) as uow:
            secret = await load_secret(uow, secret_id)
            try:
                secret.ensure_servable()
                await uow.vault_audit.record(audit_event(
                    actor=actor, organization_id=org, action=AuditAction.VALUE_READ, secret_id=secret_id,
                    success=True, now=now, details={"version": secret.current_version}))
                value = await decrypt_current(uow, self._cipher, secret)
                await uow.commit()
            except (SecretInactive, SecretDecryptionFailed, MasterKeyMissing) as error:
                refused = error
        if refused is not None:
            await audit_failure(self._uow, actor=actor, action=AuditAction.VALUE_READ, secret_id=secret_id,
                                error=refused, now=now)
            await record_usage(self._uow, org, secret_id, success=False, now=now)
            raise refused
        await record_usage(self._uow, org, secret_id, success=True, now=now)
        return value
