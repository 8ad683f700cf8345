"""Read the organization's secrets (metadata only) and their usage counters."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretUsage
from application.use_cases.vault.common import load_secret, parse_environment, parse_service
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


class GetSecret:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, secret_id: UUID) -> Secret:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            return await load_secret(uow, secret_id)


class GetSecretUsage:
    """Counters of one secret; ``success_rate`` is 0.0 and ``last_used_at`` None when never used."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, secret_id: UUID) -> SecretUsage:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            await load_secret(uow, secret_id)
            return await uow.secret_usage.get(secret_id)


class ListOrganizationUsage:
    """Per-secret counters of the caller's organization only (every non-deleted secret, zeros when unused)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int = 50, offset: int = 0) -> tuple[list[SecretUsage], int]:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            return await uow.secret_usage.list_for_organization(limit=limit, offset=offset)
