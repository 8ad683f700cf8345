"""Read one secret's metadata."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.vault.common import load_secret
from domain.vault import Secret


class GetSecret:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, secret_id: UUID) -> Secret:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            return await load_secret(uow, secret_id)
