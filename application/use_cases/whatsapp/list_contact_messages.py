"""A contact's conversation history."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.channel import Message
from domain.contacts import ContactNotFound


class ListContactMessages:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, contact_id: UUID, *, limit: int, offset: int) -> tuple[list[Message], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            if await uow.contacts.get(contact_id) is None:
                raise ContactNotFound()
            return await uow.messages.list_for_contact(contact_id, limit=limit, offset=offset)
