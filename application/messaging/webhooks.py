"""Apply one organization's share of a batch of webhook events inside one transaction, with set-based
statements: contacts got-or-added together, inbound messages stored together (deduplicated by wamid),
conversations moved forward together, statuses recorded together. Only what needs the flow engine or an
automation is done message by message, in Meta's timestamp order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog

from application import events
from application.messaging import conversations as inbox
from application.messaging.account_events import AccountEvents
from application.messaging.annotations import AnnotationApplier, event_content
from application.messaging.identities import ContactResolver, Sender, senders_of
from application.messaging.refs import Count as _Count
from application.messaging.refs import EventRef, Outcomes
from application.messaging.routing import InboundRouter
from application.messaging.statuses import StatusChange, StatusRecorder
from application.messaging.system_events import IdentityChanges, sender_of
from application.ports.uow import UnitOfWork
from domain.channel import RECEIVED, Message, WhatsAppNumber
from domain.contacts import Contact
from domain.messaging import (
    AccountEvent,
    IdentityChange,
    InboundMessage,
    MessageDirection,
    StatusUpdate,
    UserPreference,
    WebhookError,
)

__all__ = ["EventRef", "Outcomes", "WebhookApplier"]

log = structlog.get_logger("pytake.webhook")




class WebhookApplier:
    def __init__(self, *, router: InboundRouter, statuses: StatusRecorder,
                 annotations: AnnotationApplier | None = None, resolver: ContactResolver | None = None) -> None:
        self._router, self._statuses = router, statuses
        self._annotations = annotations or AnnotationApplier()
        self._resolver = resolver or ContactResolver()
        self._identity = IdentityChanges()
        self._account = AccountEvents(automations=router.automations, resolver=self._resolver)

    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                    now: datetime) -> Outcomes:
        """Inside the organization's transaction (the caller commits). ``numbers``: by phone_number_id."""
        outcomes: Outcomes = {}

        def count(ref: EventRef, outcome: str) -> None:
            outcomes.setdefault(ref.webhook_id, Counter())[outcome] += 1

        inbound = [r for r in refs if isinstance(r.event, InboundMessage) and not r.event.is_annotation]
        annotations = sorted(((r, r.event) for r in refs if isinstance(r.event, InboundMessage)
                              and r.event.is_annotation), key=lambda x: (x[1].timestamp, x[0].seq, x[0].index))
        system = [r for r in refs if isinstance(r.event, IdentityChange)]
        account = [r for r in refs if isinstance(r.event, AccountEvent | UserPreference)]
        statuses = [r for r in refs if isinstance(r.event, StatusUpdate)]
        for ref in refs:
            if isinstance(ref.event, WebhookError):
                log.warning("webhook.error_reported", phone_number_id=ref.event.phone_number_id,
                            code=ref.event.code, title=ref.event.title)
                count(ref, "errors")
        if account:
            await self._account.apply(uow, numbers, account, now, count)
        if system:  # before the messages: a number change applies to what the user writes next
            await self._identity.apply(uow, numbers, system, now, count)
        if inbound:
            await self._inbound(uow, numbers, inbound, now, count)
        if annotations:  # after the batch's new messages: a reaction to a message of the same batch finds it
            await self._annotations.apply(uow, numbers, annotations, now, count)
        if statuses:
            await self._status_updates(uow, numbers, statuses, now, count)
        return outcomes

    async def _inbound(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                       now: datetime, count: _Count) -> None:
        senders: list[tuple[EventRef, InboundMessage, WhatsAppNumber, Sender]] = []
        for ref in refs:
            event = ref.event
            assert isinstance(event, InboundMessage)
            sender = sender_of(event.from_wa_id, event.from_user_id)
            if sender is None:
                log.info("webhook.inbound_without_sender", wamid=event.wamid)
                count(ref, "skipped_no_sender")
                continue
            senders.append((ref, event, numbers[event.phone_number_id], sender))
        if not senders:
            return
        # Meta's timestamp order (one-second resolution), then arrival order, then order inside a webhook
        senders.sort(key=lambda s: (s[1].timestamp, s[0].seq, s[0].index))
        organization_id = senders[0][2].organization_id
        contacts = await self._resolver.resolve(uow, organization_id, senders_of(
            [(sender, event.profile_name) for _, event, _, sender in senders]), now)
        messages = [_stored(event, number, contacts[wa_id], now) for _, event, number, wa_id in senders]
        new = await uow.messages.add_inbound_many(messages)
        events.message_received(uow, (m for m in messages if m.id in new))
        latest: dict[tuple[UUID, UUID], datetime] = {}
        received: Counter[tuple[UUID, UUID]] = Counter()
        for (_, event, number, wa_id), message in zip(senders, messages, strict=True):
            if message.id in new:
                pair = (number.id, contacts[wa_id].id)
                latest[pair] = max(latest.get(pair, event.timestamp), event.timestamp)
                received[pair] += 1
        conversations = await inbox.record_inbound(
            uow, [(n, c, at, received[(n, c)]) for (n, c), at in latest.items()], now)
        batch = await self._router.prepare(uow, conversations) if conversations else None
        for (ref, event, number, wa_id), message in zip(senders, messages, strict=True):
            if message.id not in new:
                count(ref, "duplicates")
                continue
            assert batch is not None
            await self._router.route(uow, batch, number, contacts[wa_id], message, event, now)
            count(ref, "inbound")

    async def _status_updates(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber],
                              refs: Sequence[EventRef], now: datetime, count: _Count) -> None:
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
        await self._learn_bsuids(uow, changes, now)
        await _open_breakers(uow, numbers, [u for _, u in known], now)
        recorded = await self._statuses.record(uow, [c for _, c in changes], now)
        for (ref, _), news in zip(changes, recorded.news, strict=True):
            count(ref, "statuses" if news else "duplicates")


    @staticmethod
    async def _learn_bsuids(uow: UnitOfWork, changes: Sequence[tuple[EventRef, StatusChange]], now: datetime
                            ) -> None:
        """Status webhooks name the recipient's BSUID (``recipient_user_id`` or their ``contacts`` block): a
        contact we reached by phone learns it (one statement), so the user's later messages without a phone
        number land on it."""
        learned: dict[UUID, str] = {}
        for ref, change in changes:
            update = ref.event
            assert isinstance(update, StatusUpdate)
            sender = sender_of(None, update.recipient_user_id)
            if sender is not None and sender.bsuid is not None and change.message.contact_id is not None:
                learned[change.message.contact_id] = sender.bsuid
        if learned:
            await uow.contacts.adopt_bsuids(learned, now)
async def _open_breakers(uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], updates: Sequence[StatusUpdate],
                         now: datetime) -> None:
    """A send Meta failed later because it paused the number (131048 often arrives this way): the number's breaker
    opens, so the messages after it wait instead of failing one by one."""
    for update in updates:
        number = numbers.get(update.phone_number_id)
        pause = next((e for e in update.errors if e.pauses_number_seconds), None)
        if number is None or pause is None or pause.pauses_number_seconds is None:
            continue
        until = update.timestamp + timedelta(seconds=pause.pauses_number_seconds)
        if until > now:
            number.pause_sending(pause.code, pause.title, now, until)
            await uow.numbers.save_send_pause(number)
            log.warning("webhook.number_paused", number_id=str(number.id), graph_code=pause.code)


def _our_id(update: StatusUpdate) -> UUID | None:
    """Our message id, which every send carries as ``biz_opaque_callback_data``."""
    try:
        return UUID(update.biz_opaque_callback_data) if update.biz_opaque_callback_data else None
    except ValueError:
        return None


def _stored(event: InboundMessage, number: WhatsAppNumber, contact: Contact, now: datetime) -> Message:
    content: dict[str, object] = event_content(event)
    if event.context_wamid is not None:
        content["context_wamid"] = event.context_wamid
    if event.forwarded:
        content["forwarded"] = True
    if event.frequently_forwarded:
        content["frequently_forwarded"] = True
    if event.errors:  # why Meta could not deliver it (an unsupported type)
        content["errors"] = [{"code": e.code, "title": e.title, **({"details": e.details} if e.details else {})}
                             for e in event.errors]
    return Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id, contact_id=contact.id,
                   direction=MessageDirection.INBOUND, type=event.type.value,
                   content=content, status=RECEIVED, wamid=event.wamid,
                   source="whatsapp", occurred_at=event.timestamp, created_at=now, updated_at=now)
