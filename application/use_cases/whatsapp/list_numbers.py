"""List the organization's WhatsApp numbers."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.channel import WhatsAppNumber


class ListNumbers:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.numbers.list(limit=limit, offset=offset)
