"""A conversation's thread, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.conversations import MessageCursor
from application.ports.uow import UnitOfWorkFactory
from domain.channel import Message
from domain.conversations import ConversationNotFound


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
