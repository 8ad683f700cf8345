"""The inbox state of a conversation and the rules that move it (pure: no I/O).

``bot``: flows answer the contact. ``waiting``: handed to a human (a flow's hand-off node, or an agent taking
over) and nobody has taken it yet. ``assigned``: an agent answers; the bot stays silent. ``closed``: the agent
finished; the bot answers again, and the contact's next message makes it ``bot``.

Invariants the rules keep: ``handoff_at`` is set exactly in ``waiting`` and ``assigned``; ``assignee_id`` is set
exactly in ``assigned``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID

from domain.errors import Conflict, InvalidValue, NotFound

if TYPE_CHECKING:
    from domain.channel import Conversation


class ConversationState(StrEnum):
    BOT = "bot"
    WAITING = "waiting"
    ASSIGNED = "assigned"
    CLOSED = "closed"

    @property
    def human(self) -> bool:
        """Whether a human owns the conversation (the bot keeps silent)."""
        return self in (ConversationState.WAITING, ConversationState.ASSIGNED)


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    default_message = "Conversation not found."


class ConversationAlreadyAssigned(Conflict):
    code = "conversation_already_assigned"
    default_message = "Another agent has taken this conversation."


class InvalidAssignee(InvalidValue):
    field = "user_id"
    code = "invalid_assignee"
    default_message = "user_id must be an active agent or admin of this organization."


def _touch(conversation: Conversation, now: datetime) -> None:
    conversation.updated_at = max(conversation.updated_at, now)


def hand_off(conversation: Conversation, now: datetime) -> bool:
    """A flow hands the conversation to a human: ``waiting`` unless a human already has it."""
    if conversation.state.human:
        return False
    conversation.state, conversation.handoff_at, conversation.assignee_id = ConversationState.WAITING, now, None
    _touch(conversation, now)
    return True


def assign(conversation: Conversation, user_id: UUID, now: datetime) -> bool:
    """An agent takes the conversation (or an admin gives it to one): the bot stops, whatever the state."""
    if conversation.state is ConversationState.ASSIGNED and conversation.assignee_id == user_id:
        return False
    conversation.state, conversation.assignee_id = ConversationState.ASSIGNED, user_id
    conversation.handoff_at = conversation.handoff_at or now
    _touch(conversation, now)
    return True


def unassign(conversation: Conversation, now: datetime) -> bool:
    """Its agent lets go of it: back to ``waiting`` for another agent (still handed off, the bot stays silent)."""
    if conversation.state is not ConversationState.ASSIGNED:
        return False
    conversation.state, conversation.assignee_id = ConversationState.WAITING, None
    _touch(conversation, now)
    return True


def close(conversation: Conversation, now: datetime) -> bool:
    """The agent is done: the hand-off and the assignee are cleared and the bot answers again."""
    if conversation.state is ConversationState.CLOSED:
        return False
    conversation.state, conversation.handoff_at, conversation.assignee_id = ConversationState.CLOSED, None, None
    _touch(conversation, now)
    return True


def receive(conversation: Conversation, at: datetime, count: int, now: datetime) -> None:
    """``count`` new inbound messages, the latest sent ``at``: unread, last activity, and a closed conversation
    is the bot's again. (The PostgreSQL adapter applies the same rule to many rows in one statement.)"""
    conversation.record_inbound(at)
    conversation.unread_count += count
    if conversation.state is ConversationState.CLOSED:
        conversation.state = ConversationState.BOT
    _touch(conversation, now)


def agent_replied(conversation: Conversation, user_id: UUID, now: datetime) -> bool:
    """An agent answered the contact: last activity moves, and a waiting conversation becomes theirs."""
    if conversation.last_message_at is None or now > conversation.last_message_at:
        conversation.last_message_at = now
    _touch(conversation, now)
    if conversation.state is ConversationState.WAITING:
        return assign(conversation, user_id, now)
    return False


def mark_read(conversation: Conversation, now: datetime) -> None:
    conversation.unread_count, conversation.last_read_at = 0, now
    _touch(conversation, now)
