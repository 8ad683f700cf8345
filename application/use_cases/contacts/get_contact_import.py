"""Follow a contact import's progress."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.contact_imports import (
    ContactImport,
    ContactImportNotFound,
)


class GetContactImport:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, import_id: UUID) -> ContactImport:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            found = await uow.contact_imports.get(import_id)
        if found is None:
            raise ContactImportNotFound()
        return found
