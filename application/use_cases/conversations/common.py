"""Helpers of the agents' conversation use cases: the locked load and the summary they return."""

from __future__ import annotations

from uuid import UUID

from application.ports.conversations import ConversationSummary
from application.ports.uow import UnitOfWork
from domain.channel import Conversation
from domain.conversations import ConversationNotFound


async def _locked(uow: UnitOfWork, conversation_id: UUID) -> Conversation:
    conversation = await uow.conversations.get_by_id(conversation_id, for_update=True)
    if conversation is None:
        raise ConversationNotFound()
    return conversation


async def _summary(uow: UnitOfWork, conversation_id: UUID) -> ConversationSummary:
    found = await uow.conversations.summary(conversation_id)
    assert found is not None  # locked by this transaction
    return found
