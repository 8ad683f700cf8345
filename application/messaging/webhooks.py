"""Apply one organization's share of a batch of webhook events inside one transaction, with set-based
statements: contacts got-or-added together, inbound messages stored together (deduplicated by wamid),
conversations moved forward together, statuses recorded together. Only what needs the flow engine or an
automation is done message by message, in Meta's timestamp order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from application import events
from application.messaging.routing import InboundRouter
from application.messaging.statuses import StatusChange, StatusRecorder
from application.ports.uow import UnitOfWork
from domain.channel import RECEIVED, Message, WhatsAppNumber
from domain.contacts import Contact, InvalidWhatsAppId, normalize_whatsapp_id
from domain.messaging import InboundMessage, MessageDirection, StatusUpdate, WebhookError, WebhookEvent

log = structlog.get_logger("pytake.webhook")


@dataclass(frozen=True, slots=True)
class EventRef:
    """One event of one stored webhook: where it came from and in which order it arrived."""

    webhook_id: UUID
    seq: int
    index: int
    event: WebhookEvent


Outcomes = dict[UUID, Counter[str]]
"""Per webhook id: how many of its events ended how (``inbound``, ``duplicates``, ``statuses``...)."""
_Count = Callable[[EventRef, str], None]


class WebhookApplier:
    def __init__(self, *, router: InboundRouter, statuses: StatusRecorder) -> None:
        self._router, self._statuses = router, statuses

    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                    now: datetime) -> Outcomes:
        """Inside the organization's transaction (the caller commits). ``numbers``: by phone_number_id."""
        outcomes: Outcomes = {}

        def count(ref: EventRef, outcome: str) -> None:
            outcomes.setdefault(ref.webhook_id, Counter())[outcome] += 1

        inbound = [r for r in refs if isinstance(r.event, InboundMessage)]
        statuses = [r for r in refs if isinstance(r.event, StatusUpdate)]
        for ref in refs:
            if isinstance(ref.event, WebhookError):
                log.warning("webhook.error_reported", phone_number_id=ref.event.phone_number_id,
                            code=ref.event.code, title=ref.event.title)
                count(ref, "errors")
        if inbound:
            await self._inbound(uow, numbers, inbound, now, count)
        if statuses:
            await self._status_updates(uow, statuses, now, count)
        return outcomes

    async def _inbound(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                       now: datetime, count: _Count) -> None:
        senders: list[tuple[EventRef, InboundMessage, WhatsAppNumber, str]] = []
        for ref in refs:
            event = ref.event
            assert isinstance(event, InboundMessage)
            try:
                senders.append((ref, event, numbers[event.phone_number_id],
                                normalize_whatsapp_id(event.from_wa_id or "")))
            except InvalidWhatsAppId:
                log.info("webhook.inbound_without_phone", wamid=event.wamid)
                count(ref, "skipped_no_phone")
        if not senders:
            return
        # Meta's timestamp order (one-second resolution), then arrival order, then order inside a webhook
        senders.sort(key=lambda s: (s[1].timestamp, s[0].seq, s[0].index))
        organization_id = senders[0][2].organization_id
        contacts = await self._contacts(uow, organization_id, senders, now)
        messages = [_stored(event, number, contacts[wa_id], now) for _, event, number, wa_id in senders]
        new = await uow.messages.add_inbound_many(messages)
        events.message_received(uow, (m for m in messages if m.id in new))
        latest: dict[tuple[UUID, UUID], datetime] = {}
        for (_, event, number, wa_id), message in zip(senders, messages, strict=True):
            if message.id in new:
                pair = (number.id, contacts[wa_id].id)
                latest[pair] = max(latest.get(pair, event.timestamp), event.timestamp)
        conversations = await uow.conversations.record_inbound_many(
            [(n, c, at) for (n, c), at in sorted(latest.items())], now) if latest else {}
        events.conversation_updated(uow, conversations.values(), "inbound")
        batch = await self._router.prepare(uow, conversations) if conversations else None
        for (ref, event, number, wa_id), message in zip(senders, messages, strict=True):
            if message.id not in new:
                count(ref, "duplicates")
                continue
            assert batch is not None
            await self._router.route(uow, batch, number, contacts[wa_id], message, event, now)
            count(ref, "inbound")

    @staticmethod
    async def _contacts(uow: UnitOfWork, organization_id: UUID,
                        senders: Sequence[tuple[EventRef, InboundMessage, WhatsAppNumber, str]],
                        now: datetime) -> dict[str, Contact]:
        """The senders' contacts, created when new (named after their WhatsApp profile), and named after it
        when they have no name yet."""
        profiles: dict[str, str | None] = {}
        for _, event, _, wa_id in senders:
            name = (event.profile_name or "")[:255] or None
            profiles[wa_id] = profiles.get(wa_id) or name
        contacts = await uow.contacts.get_or_add_many([
            Contact(id=uuid4(), organization_id=organization_id, whatsapp_id=wa_id, name=name, created_at=now,
                    updated_at=now) for wa_id, name in sorted(profiles.items())])
        names = {contacts[wa_id].id: name for wa_id, name in profiles.items()
                 if name and not contacts[wa_id].name}
        if names:
            await uow.contacts.fill_missing_names(names, now)
            for wa_id, name in profiles.items():
                if name and not contacts[wa_id].name:
                    contacts[wa_id].name, contacts[wa_id].updated_at = name, now
        return contacts

    async def _status_updates(self, uow: UnitOfWork, refs: Sequence[EventRef], now: datetime,
                              count: _Count) -> None:
        updates = [(ref, ref.event) for ref in refs if isinstance(ref.event, StatusUpdate)]
        known = [(ref, u) for ref, u in updates if u.message_status is not None]
        for ref, _ in (x for x in updates if x[1].message_status is None):
            count(ref, "ignored")
        if not known:
            return
        by_wamid = await uow.messages.get_many_by_wamids(sorted({u.wamid for _, u in known}), for_update=True)
        lost = sorted({i for _, u in known if u.wamid not in by_wamid and (i := _our_id(u)) is not None}, key=str)
        by_id = await uow.messages.get_many(lost, for_update=True) if lost else {}
        changes: list[tuple[EventRef, StatusChange]] = []
        for ref, update in known:
            message = by_wamid.get(update.wamid)
            our_id = _our_id(update)
            if message is None and our_id is not None:
                candidate = by_id.get(our_id)
                # our id echoed back for a send whose answer was lost: the webhook tells its wamid
                message = candidate if candidate is not None and candidate.wamid in (None, update.wamid) else None
            if message is None or message.direction is not MessageDirection.OUTBOUND:
                count(ref, "unknown_message")
                continue
            error = update.errors[0] if update.errors else None
            assert update.message_status is not None
            changes.append((ref, StatusChange(
                message=message, status=update.message_status, at=update.timestamp,
                error_code=error.code if error else None, error_title=error.title if error else None,
                wamid=update.wamid, from_webhook=True)))
        if not changes:
            return
        recorded = await self._statuses.record(uow, [c for _, c in changes], now)
        for (ref, _), news in zip(changes, recorded.news, strict=True):
            count(ref, "statuses" if news else "duplicates")


def _our_id(update: StatusUpdate) -> UUID | None:
    """Our message id, which every send carries as ``biz_opaque_callback_data``."""
    try:
        return UUID(update.biz_opaque_callback_data) if update.biz_opaque_callback_data else None
    except ValueError:
        return None


def _stored(event: InboundMessage, number: WhatsAppNumber, contact: Contact, now: datetime) -> Message:
    content: dict[str, object] = {"text": event.text, "reply_id": event.reply_id, "media_id": event.media_id,
                                  "context_wamid": event.context_wamid}
    return Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id, contact_id=contact.id,
                   direction=MessageDirection.INBOUND, type=event.type.value,
                   content={k: v for k, v in content.items() if v is not None}, status=RECEIVED, wamid=event.wamid,
                   source="whatsapp", occurred_at=event.timestamp, created_at=now, updated_at=now)
