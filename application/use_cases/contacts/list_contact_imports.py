"""List the organization's contact imports."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.contact_imports import (
    ContactImport,
)


class ListContactImports:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[ContactImport], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.contact_imports.list(limit=limit, offset=offset)
