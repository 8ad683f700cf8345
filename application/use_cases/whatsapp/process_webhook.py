"""Worker: apply a stored webhook's events - inbound messages, statuses, errors - with their effects once."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from uuid import UUID, uuid4

import structlog

from application.ports.channel import StatusEvent, WebhookDecoder
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.whatsapp.send_message import contact_for
from domain.channel import RECEIVED, Message, WhatsAppNumber
from domain.contacts import InvalidWhatsAppId, normalize_whatsapp_id
from domain.messaging import InboundMessage, MessageDirection, StatusUpdate, WebhookError, WebhookEvent

log = structlog.get_logger("pytake.webhook")

# Called inside the organization's transaction for each newly stored inbound message (flows, opt-out...).
InboundHook = Callable[[UnitOfWork, WhatsAppNumber, Message, InboundMessage], Awaitable[None]]
# Called inside the organization's transaction after an outbound message's status changed (automations...).
StatusHook = Callable[[UnitOfWork, Message], Awaitable[None]]


class ProcessWebhook:
    def __init__(self, *, uow: UnitOfWorkFactory, decoder: WebhookDecoder, clock: Clock,
                 inbound_hooks: Sequence[InboundHook] = (), status_hooks: Sequence[StatusHook] = ()) -> None:
        self._uow, self._decoder, self._clock, self._hooks = uow, decoder, clock, list(inbound_hooks)
        self._status_hooks = list(status_hooks)

    def add_inbound_hook(self, hook: InboundHook) -> None:
        self._hooks.append(hook)

    async def execute(self, event_id: UUID) -> dict[str, int]:
        async with self._uow() as uow:
            stored = await uow.webhook_events.get(event_id)
            if stored is None or stored.status == "processed":
                return {}
            by_number: dict[str, list[WebhookEvent]] = defaultdict(list)
            for event in self._decoder.parse(stored.body, self._clock.now()):
                by_number[event.phone_number_id].append(event)
            numbers = {pnid: await uow.numbers.get_by_phone_number_id_any_org(pnid) for pnid in by_number}
        summary: Counter[str] = Counter()
        routable: list[tuple[WhatsAppNumber, list[WebhookEvent]]] = []
        for pnid, events in by_number.items():
            number = numbers[pnid]
            if number is None:
                summary["unroutable"] += len(events)
                log.warning("webhook.unknown_number", phone_number_id=pnid, events=len(events))
            else:
                routable.append((number, events))
        for index, (number, events) in enumerate(routable):
            async with self._uow(number.organization_id) as uow:
                for event in events:
                    summary[await self._apply(uow, number, event)] += 1
                if index == len(routable) - 1:  # the event is done when its last organization's effects commit
                    await uow.webhook_events.mark(event_id, status="processed", now=self._clock.now(),
                                                  summary=dict(summary))
                await uow.commit()
        if not routable:
            async with self._uow() as uow:
                await uow.webhook_events.mark(event_id, status="processed", now=self._clock.now(),
                                              summary=dict(summary))
                await uow.commit()
        return dict(summary)

    async def _apply(self, uow: UnitOfWork, number: WhatsAppNumber, event: WebhookEvent) -> str:
        if isinstance(event, InboundMessage):
            return await self._inbound(uow, number, event)
        if isinstance(event, StatusUpdate):
            return await self._status(uow, event)
        assert isinstance(event, WebhookError)
        log.warning("webhook.error_reported", phone_number_id=event.phone_number_id, code=event.code,
                    title=event.title)
        return "errors"

    async def _inbound(self, uow: UnitOfWork, number: WhatsAppNumber, event: InboundMessage) -> str:
        try:
            whatsapp_id = normalize_whatsapp_id(event.from_wa_id or "")
        except InvalidWhatsAppId:
            log.info("webhook.inbound_without_phone", wamid=event.wamid)
            return "skipped_no_phone"
        now = self._clock.now()
        contact = await contact_for(uow, number.organization_id, whatsapp_id, now)
        if event.profile_name and not contact.name:
            contact.name = event.profile_name[:255]
            contact.updated_at = now
            await uow.contacts.update(contact)
        content: dict[str, object] = {"text": event.text, "reply_id": event.reply_id, "media_id": event.media_id,
                                      "context_wamid": event.context_wamid}
        message = Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id,
                          contact_id=contact.id, direction=MessageDirection.INBOUND, type=event.type.value,
                          content={k: v for k, v in content.items() if v is not None}, status=RECEIVED,
                          wamid=event.wamid, source="whatsapp", occurred_at=event.timestamp, created_at=now,
                          updated_at=now)
        if not await uow.messages.add_inbound_if_new(message):
            return "duplicates"
        conversation = await uow.conversations.get_for_update(number.id, contact.id, now)
        conversation.record_inbound(event.timestamp)
        conversation.updated_at = now
        await uow.conversations.update(conversation)
        for hook in self._hooks:
            await hook(uow, number, message, event)
        return "inbound"

    async def _status(self, uow: UnitOfWork, event: StatusUpdate) -> str:
        incoming = event.message_status
        if incoming is None:
            return "ignored"
        message = await uow.messages.get_by_wamid(event.wamid, for_update=True)
        if message is None and event.biz_opaque_callback_data:
            try:
                message = await uow.messages.get(UUID(event.biz_opaque_callback_data), for_update=True)
            except ValueError:
                message = None
            if message is not None and message.wamid is None:
                message.wamid = event.wamid  # reconciles a send whose response was lost
        if message is None or message.direction is not MessageDirection.OUTBOUND:
            return "unknown_message"
        error = event.errors[0] if event.errors else None
        code, title = (error.code, error.title) if error else (None, None)
        changed = message.apply_status(incoming, event.timestamp, error_code=code, error_title=title)
        await uow.messages.update(message)
        recorded = await uow.messages.record_status_event(message, StatusEvent(
            status=incoming.value, occurred_at=event.timestamp, error_code=code, error_title=title))
        if changed:
            for hook in self._status_hooks:
                await hook(uow, message)
        return "statuses" if (changed or recorded) else "duplicates"
