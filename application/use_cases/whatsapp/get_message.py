"""Read a message with its status history."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.channel import StatusEvent
from application.ports.uow import UnitOfWorkFactory
from domain.channel import Message, MessageNotFound


class GetMessage:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, message_id: UUID) -> tuple[Message, list[StatusEvent]]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            message = await uow.messages.get(message_id)
            if message is None:
                raise MessageNotFound()
            return message, await uow.messages.status_history(message_id)
