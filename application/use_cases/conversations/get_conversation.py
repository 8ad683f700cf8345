"""Read one conversation of the inbox."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.conversations import ConversationSummary
from application.ports.uow import UnitOfWorkFactory
from domain.conversations import ConversationNotFound


class GetConversation:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, conversation_id: UUID) -> ConversationSummary:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            found = await uow.conversations.summary(conversation_id)
        if found is None:
            raise ConversationNotFound()
        return found
