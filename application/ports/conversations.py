"""The inbox's read model: a conversation with what a list row shows, and the list's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.channel import Conversation
from domain.conversations import ConversationState


@dataclass(frozen=True, slots=True, kw_only=True)
class LastMessage:
    """The newest message of a conversation: its type, its text (a text's body, a caption, a template's name,
    when it has one), direction and time."""

    type: str
    text: str | None
    direction: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationSummary:
    conversation: Conversation
    contact_name: str | None
    contact_whatsapp_id: str
    number_phone: str
    number_display_name: str
    assignee_name: str | None
    last_message: LastMessage | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationFilter:
    state: ConversationState | None = None
    assignee_id: UUID | None = None  # only those assigned to this user
    unassigned: bool = False  # only those nobody is assigned to
    number_id: UUID | None = None
    query: str | None = None  # a substring of the contact's name or WhatsApp number (case-insensitive)


MessageCursor = tuple[datetime, UUID]
"""Where a page of a thread ends: the (occurred_at, id) of its oldest message."""
