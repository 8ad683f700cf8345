"""Soft-delete a secret. Every change is audited."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from application.authorization import Actor
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.vault.common import (
    AuditAction,
    Details,
    load_secret,
    run_audited,
)


class DeleteSecret:
    """Soft delete: 404 everywhere afterwards and the key can be reused. The stored versions are destroyed at
    once (ciphertext and wrapped keys erased; there is no restore), the rows stay as history."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, secret_id: UUID) -> None:
        async def work(uow: UnitOfWork, now: datetime) -> tuple[None, Details]:
            secret = await load_secret(uow, secret_id, for_update=True)
            live = tuple(v for v in (secret.current_version, secret.previous_version) if v is not None)
            secret.delete(now)
            await uow.secrets.update(secret)
            await uow.secrets.release_versions(secret.id, live, now)
            return None, {"key": secret.key.value}

        await run_audited(self._uow, self._clock, actor, AuditAction.DELETE, secret_id, work)
