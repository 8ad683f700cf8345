"""The inbox's reads: the list, one conversation, and a conversation's thread a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.conversations import ConversationFilter, ConversationSummary, MessageCursor
from application.ports.uow import UnitOfWorkFactory
from domain.channel import Message
from domain.conversations import ConversationNotFound


class ListConversations:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, where: ConversationFilter, *, limit: int, offset: int
                      ) -> tuple[list[ConversationSummary], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.conversations.list(where, limit=limit, offset=offset)


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


@dataclass(frozen=True, slots=True)
class ThreadPage:
    messages: list[Message]
    next_cursor: MessageCursor | None  # the oldest message's position, when older messages may follow


class ListConversationMessages:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, conversation_id: UUID, *, before: MessageCursor | None,
                      limit: int) -> ThreadPage:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            conversation = await uow.conversations.get_by_id(conversation_id)
            if conversation is None:
                raise ConversationNotFound()
            found = await uow.messages.thread(conversation.number_id, conversation.contact_id, before=before,
                                              limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return ThreadPage(messages=page, next_cursor=(page[-1].occurred_at, page[-1].id) if more else None)
