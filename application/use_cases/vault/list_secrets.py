"""List the organization's secrets (metadata only)."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.vault.common import parse_environment, parse_service
from domain.vault import Secret


class ListSecrets:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, environment: str | None = None, service: str | None = None,
                      limit: int = 50, offset: int = 0) -> tuple[list[Secret], int]:
        actor.require(Permission.MANAGE_SECRETS)
        env, svc = parse_environment(environment), parse_service(service)
        async with self._uow(actor.organization_id) as uow:
            return await uow.secrets.search(environment=env, service=svc, limit=limit, offset=offset)
