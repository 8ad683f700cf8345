"""Usage counters of every secret of the organization."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretUsage


class ListOrganizationUsage:
    """Per-secret counters of the caller's organization only (every non-deleted secret, zeros when unused)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int = 50, offset: int = 0) -> tuple[list[SecretUsage], int]:
        actor.require(Permission.MANAGE_SECRETS)
        async with self._uow(actor.organization_id) as uow:
            return await uow.secret_usage.list_for_organization(limit=limit, offset=offset)
