"""A secret's usage counters."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretUsage
from application.use_cases.vault.common import load_secret


class GetSecretUsage:
    """Counters of one secret; ``success_rate`` is 0.0 and ``last_used_at`` None when never used."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, secret_id: UUID) -> SecretUsage:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            await load_secret(uow, secret_id)
            return await uow.secret_usage.get(secret_id)
