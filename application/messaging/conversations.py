"""Every change of a conversation's inbox state goes through this module, and only this one.

Each function applies a rule of ``domain.conversations`` to a locked conversation inside the caller's
transaction and saves it through :func:`_saved`, the one place that learns of every change and publishes its
``conversation.updated`` event in the same transaction. Inbound messages change many conversations in one
statement (:func:`record_inbound`, which publishes theirs together), which the webhook pipeline needs to stay
set-based.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from application import events
from application.ports.uow import UnitOfWork
from domain import conversations as rules
from domain.channel import Conversation

Inbound = tuple[UUID, UUID, datetime, int]
"""``(number_id, contact_id, latest occurred_at, new messages)`` of one conversation in a webhook batch."""


async def _saved(uow: UnitOfWork, conversation: Conversation, reason: str) -> Conversation:
    await uow.conversations.update(conversation)
    _published(uow, [conversation], reason)
    return conversation


def _published(uow: UnitOfWork, changed: Iterable[Conversation], reason: str) -> None:
    for conversation in changed:
        events.conversation_updated(uow, [conversation], reason, state=conversation.state.value,
                                    assignee_id=str(conversation.assignee_id) if conversation.assignee_id else None,
                                    unread_count=conversation.unread_count)


async def record_inbound(uow: UnitOfWork, inbound: Sequence[Inbound], now: datetime
                         ) -> dict[tuple[UUID, UUID], Conversation]:
    """New inbound messages (``rules.receive`` on every conversation at once), the conversations locked."""
    if not inbound:
        return {}
    recorded = await uow.conversations.record_inbound_many(sorted(inbound), now)
    _published(uow, recorded.values(), "inbound")
    return recorded


async def hand_off(uow: UnitOfWork, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
    """A flow hands the contact to a human (the conversation is created when missing)."""
    conversation = await uow.conversations.get_or_create_locked(number_id, contact_id, now)
    return await _saved(uow, conversation, "handoff") if rules.hand_off(conversation, now) else conversation


async def assign(uow: UnitOfWork, conversation: Conversation, user_id: UUID | None, now: datetime) -> bool:
    """``conversation`` locked; the caller checked who may assign whom. None lets go of it (``waiting``)."""
    changed = rules.unassign(conversation, now) if user_id is None else rules.assign(conversation, user_id, now)
    if changed:
        await _saved(uow, conversation, "assigned" if user_id is not None else "unassigned")
    return changed


async def close(uow: UnitOfWork, conversation: Conversation, now: datetime) -> bool:
    """``conversation`` locked: back to the bot, hand-off and assignee cleared."""
    if rules.close(conversation, now):
        await _saved(uow, conversation, "closed")
        return True
    return False


async def mark_read(uow: UnitOfWork, conversation: Conversation, now: datetime) -> None:
    rules.mark_read(conversation, now)
    await _saved(uow, conversation, "read")


async def agent_replied(uow: UnitOfWork, number_id: UUID, contact_id: UUID, user_id: UUID, now: datetime
                        ) -> Conversation | None:
    """A user sent the contact a message from the number: last activity, and a waiting conversation becomes
    theirs. Nothing when the contact never wrote to the number (no conversation)."""
    if await uow.conversations.get(number_id, contact_id) is None:
        return None
    conversation = await uow.conversations.get_or_create_locked(number_id, contact_id, now)
    rules.agent_replied(conversation, user_id, now)
    return await _saved(uow, conversation, "agent_replied")
