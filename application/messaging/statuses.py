"""The one place an outbound message's status changes.

Status webhooks, the sender's outcomes (accepted, refused) and the sweep of sends whose outcome never became
known all come here, in batches: one rule (:meth:`Message.apply_status`: forward only, ``failed`` terminal,
whatever order the changes arrive in), one history (one event per message and status), and then the
automations whose recipients these messages opened are told, in code order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from application import events as live_events
from application.ports.channel import StatusEvent
from application.ports.uow import UnitOfWork
from domain.channel import Message
from domain.messaging import MessageStatus

if TYPE_CHECKING:
    from application.use_cases.automations.tracking import AutomationTracker


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusChange:
    """One status reported for one message. ``wamid``: Meta's id, when this report reveals it (the send's
    answer, or a status webhook that carried our id back for a send whose answer was lost). ``from_webhook``:
    Meta's own status webhook, which confirms the message reached WhatsApp."""

    message: Message
    status: MessageStatus
    at: datetime
    error_code: int | None = None
    error_title: str | None = None
    wamid: str | None = None
    from_webhook: bool = False
    credentials_rejected: bool = False
    """The send failed because Meta refused the number's credentials (the automation pauses, not fails)."""


class StatusRecorder:
    def __init__(self, *, automations: AutomationTracker) -> None:
        self._automations = automations

    async def record(self, uow: UnitOfWork, changes: Sequence[StatusChange], now: datetime, *,
                     also_save: Sequence[Message] = ()) -> RecordedStatuses:
        """Apply the changes inside the caller's transaction. ``also_save``: messages the caller changed
        otherwise (a released claim), written in the same statement."""
        touched: dict[UUID, Message] = {m.id: m for m in also_save}
        moved: dict[UUID, Message] = {}
        moves: list[bool] = [False] * len(changes)
        events: list[tuple[Message, StatusEvent]] = []
        order = sorted(range(len(changes)), key=lambda i: (changes[i].at, changes[i].status.rank))
        for i in order:
            change = changes[i]
            message = change.message
            touched[message.id] = message
            if change.wamid and message.wamid is None:
                message.wamid = change.wamid
            if change.from_webhook and message.confirmed_at is None:
                message.confirmed_at = now
            if message.apply_status(change.status, change.at, error_code=change.error_code,
                                    error_title=change.error_title):
                moved[message.id], moves[i] = message, True
            events.append((message, StatusEvent(status=change.status.value, occurred_at=change.at,
                                                error_code=change.error_code, error_title=change.error_title)))
        if touched:
            await uow.messages.update_many(list(touched.values()))
        new_events = await uow.messages.record_status_events(events) if events else set()
        changed = list(moved.values())
        live_events.message_status(uow, changed)
        if changed:
            refused = {c.message.id for c in changes if c.credentials_rejected}
            await self._automations.on_statuses(uow, changed, now, credentials_rejected=refused)
        news, seen = [], set()
        for i, change in enumerate(changes):  # a change is news when it moved the status or is a status's first
            pair = (change.message.id, change.status.value)
            news.append(moves[i] or (pair in new_events and pair not in seen))
            seen.add(pair)
        return RecordedStatuses(moved=set(moved), news=news)


@dataclass(frozen=True, slots=True)
class RecordedStatuses:
    moved: set[UUID]
    """Messages whose status moved forward."""
    news: list[bool]
    """For each change given, in order: whether it told something new (else it was a redelivery)."""
