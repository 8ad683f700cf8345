"""Delete a contact of the actor's organization."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.contacts import ContactNotFound


class DeleteContact:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, contact_id: UUID) -> None:
        actor.require(Permission.WRITE_CONTACTS)
        async with self._uow(actor.organization_id) as uow:
            if not await uow.contacts.delete(contact_id):
                raise ContactNotFound()
            await uow.commit()
