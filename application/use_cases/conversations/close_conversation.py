"""The agent is done: the bot answers the contact again (hand-off and assignee cleared)."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.messaging import conversations
from application.ports.common import Clock
from application.ports.conversations import ConversationSummary
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.conversations.common import _locked, _summary


class CloseConversation:
    """The agent is done: the bot answers the contact again (hand-off and assignee cleared)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, conversation_id: UUID) -> ConversationSummary:
        actor.require(Permission.SEND_MESSAGES)
        async with self._uow(actor.organization_id) as uow:
            conversation = await _locked(uow, conversation_id)
            await conversations.close(uow, conversation, self._clock.now())
            summary = await _summary(uow, conversation.id)
            await uow.commit()
        return summary
