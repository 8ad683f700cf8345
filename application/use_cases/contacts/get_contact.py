"""Get one contact of the actor's organization."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.contacts import Contact, ContactNotFound


class GetContact:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, contact_id: UUID) -> Contact:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            contact = await uow.contacts.get(contact_id)
        if contact is None:
            raise ContactNotFound()
        return contact
