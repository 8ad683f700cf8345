"""Rotate a secret: re-key, or a new value (a transition of ``domain.vault``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from application import events
from application.authorization import Actor, Permission
from application.messaging.outbound import resume_after_token_change
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.common import (
    AuditAction,
    Details,
    decrypt_current,
    load_secret,
    run_audited,
    store_new_version,
)
from domain.vault import Secret, SecretValue


class RotateSecret:
    """No value: re-key (same value, fresh data key, active master key, version n+1, status unchanged).
    With a value: a value change, exactly as ``PUT {value}``."""

    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock) -> None:
        self._uow, self._cipher, self._clock = uow, cipher, clock

    async def execute(self, actor: Actor, secret_id: UUID, value: str | None = None) -> Secret:
        actor.require(Permission.MANAGE_SECRETS)
        new_value = SecretValue(value) if value is not None else None

        async def work(uow: UnitOfWork, now: datetime) -> tuple[Secret, Details]:
            secret = await load_secret(uow, secret_id, for_update=True)
            if new_value is None:
                plaintext = await decrypt_current(uow, self._cipher, secret)
                change = secret.rekey(now)
            else:
                plaintext, change = new_value, secret.change_value(now)
            await store_new_version(uow, self._cipher, secret, change.new_version, change.released, plaintext, now)
            await uow.secrets.update(secret)
            if new_value is not None:  # a new token: numbers paused for an invalid one send again
                await resume_after_token_change(uow, secret.id)
            events.secret_rotated(uow, secret, "rekey" if new_value is None else "value")
            return secret, {"kind": "rekey" if new_value is None else "value", "version": secret.current_version,
                            "kek_version": self._cipher.active_key_version, "status": secret.status.value}

        return await run_audited(self._uow, self._clock, actor, AuditAction.ROTATE, secret_id, work)
