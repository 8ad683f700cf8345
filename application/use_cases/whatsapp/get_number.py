"""Read one of the organization's WhatsApp numbers."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.channel import WhatsAppNumber, WhatsAppNumberNotFound


class GetNumber:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, number_id: UUID) -> WhatsAppNumber:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            number = await uow.numbers.get(number_id)
        if number is None:
            raise WhatsAppNumberNotFound()
        return number
