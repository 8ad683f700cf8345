"""The inbox's list of conversations."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.conversations import ConversationFilter, ConversationSummary
from application.ports.uow import UnitOfWorkFactory


class ListConversations:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, where: ConversationFilter, *, limit: int, offset: int
                      ) -> tuple[list[ConversationSummary], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.conversations.list(where, limit=limit, offset=offset)
