"""Live events: what the organization's stream tells its listeners, and the errors of listening to it."""

from __future__ import annotations

from enum import StrEnum

from domain.errors import Unauthenticated, Unavailable


class EventType(StrEnum):
    MESSAGE_RECEIVED = "message.received"
    MESSAGE_STATUS = "message.status"
    CONVERSATION_UPDATED = "conversation.updated"
    FLOW_EXECUTION_FINISHED = "flow_execution.finished"
    AUTOMATION_PROGRESS = "automation.progress"
    SECRET_ROTATED = "secret.rotated"


RESET = "reset"
"""Sent (never stored) to a client resuming from an event the retention already deleted: refetch, then go on."""

PREVIEW_LENGTH = 80
"""Characters of a message's text an event carries (the client fetches the message for the rest)."""


def preview(text: object) -> str | None:
    """The first characters of a message's text, or None when it has none."""
    if not isinstance(text, str) or not text:
        return None
    return text if len(text) <= PREVIEW_LENGTH else text[:PREVIEW_LENGTH - 1] + "\u2026"


class InvalidEventTicket(Unauthenticated):
    code = "invalid_ticket"
    default_message = "The event stream ticket is unknown, already used or expired: ask for a new one."


class EventStreamsClosing(Unavailable):
    code = "server_shutting_down"
    default_message = "This server is shutting down; reconnect (with Last-Event-ID) in a moment."
