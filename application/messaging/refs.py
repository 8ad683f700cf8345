"""Events of stored webhooks as the applier sees them, and what each came to."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from domain.messaging import WebhookEvent


@dataclass(frozen=True, slots=True)
class EventRef:
    """One event of one stored webhook: where it came from and in which order it arrived."""

    webhook_id: UUID
    seq: int
    index: int
    event: WebhookEvent


Outcomes = dict[UUID, Counter[str]]
"""Per webhook id: how many of its events ended how (``inbound``, ``duplicates``, ``statuses``...)."""
Count = Callable[[EventRef, str], None]
"""Count one event's outcome."""
