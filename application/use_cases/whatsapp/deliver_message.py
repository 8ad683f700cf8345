"""Worker: send one queued message through the Graph API, at most once.

1. pace: reserve a slot of the number's throughput (shared by every worker replica) and wait for it;
2. claim: mark the message as being sent (committed) - a retry that finds the claim knows an earlier
   attempt may have reached Meta and never sends again; the status webhook, which echoes our message id
   as ``biz_opaque_callback_data``, reconciles it (or the reconcile job fails it after a timeout);
3. send, then record ``sent`` with the wamid, or the failure. Definitive errors (Meta answered) release the
   claim so rate limits and outages are retried with backoff; ambiguous ones keep it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog

from application.ports.channel import SecretResolver, SendPacer, StatusEvent
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import GraphApiError, GraphAuthError, ListRow, ListSection, SentMessage, WhatsAppGateway
from application.use_cases.whatsapp.jobs import RECONCILE_SEND_JOB
from application.use_cases.whatsapp.process_webhook import StatusHook
from domain.channel import Message, NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.messaging import MessageStatus

log = structlog.get_logger("pytake.send")

UNCONFIRMED_TIMEOUT = timedelta(minutes=10)


SendObserver = Callable[[str], None]
"""Told each send's outcome: sent, failed, skipped, unconfirmed, or retry (the Graph API refused it for now)."""


class DeliverMessage:
    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver,
                 pacer: SendPacer, clock: Clock, status_hooks: Sequence[StatusHook] = (),
                 observer: SendObserver | None = None) -> None:
        self._uow, self._gateway, self._secrets, self._pacer, self._clock = uow, gateway, secrets, pacer, clock
        self._status_hooks = list(status_hooks)
        self._observe: SendObserver = observer or (lambda _outcome: None)

    async def execute(self, organization_id: UUID, message_id: UUID) -> str:
        """Returns what happened: sent, failed, skipped or unconfirmed. Raises retryable errors."""
        try:
            outcome = await self._deliver(organization_id, message_id)
        except GraphApiError as error:
            if error.retryable:
                self._observe("retry")
            raise
        self._observe(outcome)
        return outcome

    async def _deliver(self, organization_id: UUID, message_id: UUID) -> str:
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id)
            if message is None or message.status != MessageStatus.QUEUED.value:
                return "skipped"
            if message.send_claimed_at is not None:  # an earlier attempt may have reached Meta
                await self._schedule_reconcile(uow, organization_id, message_id)
                await uow.commit()
                return "unconfirmed"
            number = await uow.numbers.get(message.number_id)
            contact = await uow.contacts.get(message.contact_id) if message.contact_id else None
        if number is None or contact is None:
            return await self._fail(organization_id, message_id, None, "The number or the contact no longer exists.")
        if number.status is not NumberStatus.ACTIVE:
            return await self._fail(organization_id, message_id, None, "The sending number is not active.")
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        key = f"number:{number.id}"
        wait = await self._pacer.reserve(key, number.throughput_mps)  # smooth: one slot every 1/mps seconds
        if wait > 0:
            await asyncio.sleep(wait)
        if not await self._claim(organization_id, message_id):
            return "skipped"
        # hard cap per calendar second, taken right before the call so nothing (a busy connection pool, a busy
        # event loop) stands between the admission and the request
        while (wait := await self._pacer.admit(key, number.throughput_mps)) > 0:
            await asyncio.sleep(wait)
        try:
            sent = await self._send(number, token, contact, message)
        except GraphApiError as error:
            return await self._after_error(organization_id, message_id, number, error)
        await self._record_sent(organization_id, message_id, sent)
        return "sent"

    @staticmethod
    async def _schedule_reconcile(uow: UnitOfWork, organization_id: UUID, message_id: UUID) -> None:
        await uow.jobs.enqueue(RECONCILE_SEND_JOB, {"organization_id": str(organization_id),
                                                    "message_id": str(message_id)},
                               dedupe_key=f"reconcile:{message_id}", delay=UNCONFIRMED_TIMEOUT)

    async def _claim(self, organization_id: UUID, message_id: UUID) -> bool:
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id, for_update=True)
            if message is None or message.status != MessageStatus.QUEUED.value or message.send_claimed_at:
                return False
            message.send_claimed_at = self._clock.now()
            message.attempts += 1
            await uow.messages.update(message)
            await uow.commit()
        return True

    async def _send(self, number: WhatsAppNumber, token: str, contact: Contact, message: Message) -> SentMessage:
        pnid, to, content, tracking = number.phone_number_id, contact.whatsapp_id, message.content, str(message.id)
        if message.type == "template":
            template: dict[str, Any] = content["template"]
            return await self._gateway.send_template(pnid, token, to, template["name"], template["language"],
                                                     template.get("components") or (), tracking=tracking)
        if message.type == "interactive" and content.get("sections"):
            sections = [ListSection(s.get("title"), tuple(ListRow(r["id"], r["title"], r.get("description"))
                                                           for r in s["rows"])) for s in content["sections"]]
            return await self._gateway.send_list(pnid, token, to, content["text"], content.get("button", "Options"),
                                                 sections, tracking=tracking)
        if message.type == "interactive":
            buttons = [(b["id"], b["title"]) for b in content["buttons"]]
            return await self._gateway.send_buttons(pnid, token, to, content["text"], buttons, tracking=tracking)
        if message.type in {"image", "document", "video", "audio"}:
            return await self._gateway.send_media(pnid, token, to, message.type, content["link"],  # type: ignore[arg-type]
                                                  content.get("caption"), tracking=tracking)
        return await self._gateway.send_text(pnid, token, to, content["text"], tracking=tracking)

    async def _record_sent(self, organization_id: UUID, message_id: UUID, sent: SentMessage) -> None:
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id, for_update=True)
            if message is None:
                return
            if message.wamid is None:
                message.wamid = sent.wamid
            changed = message.apply_status(MessageStatus.SENT, now)
            await uow.messages.update(message)
            await uow.messages.record_status_event(message, StatusEvent(status="sent", occurred_at=now))
            if changed:
                for hook in self._status_hooks:
                    await hook(uow, message)
            await uow.commit()

    async def _after_error(self, organization_id: UUID, message_id: UUID, number: WhatsAppNumber,
                           error: GraphApiError) -> str:
        fields = {"message_id": str(message_id), "graph_code": error.graph_code, "http_status": error.http_status,
                  "error_type": type(error).__name__}
        if isinstance(error, GraphAuthError):
            await self._secrets.report_failure(organization_id, number.access_token_secret_id)
        if error.retryable and error.may_have_been_sent:
            async with self._uow(organization_id) as uow:
                await self._schedule_reconcile(uow, organization_id, message_id)
                await uow.commit()
            log.warning("send.outcome_unknown", **fields)
            return "unconfirmed"
        if error.retryable:
            async with self._uow(organization_id) as uow:
                message = await uow.messages.get(message_id, for_update=True)
                if message is not None and message.status == MessageStatus.QUEUED.value:
                    message.send_claimed_at = None
                    await uow.messages.update(message)
                    await uow.commit()
            log.info("send.retry_later", **fields)
            raise error
        log.info("send.failed", **fields)
        return await self._fail(organization_id, message_id, error.graph_code, error.title or error.message)

    async def _fail(self, organization_id: UUID, message_id: UUID, code: int | None, title: str) -> str:
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id, for_update=True)
            if message is None:
                return "skipped"
            if message.apply_status(MessageStatus.FAILED, now, error_code=code, error_title=title[:500]):
                await uow.messages.update(message)
                await uow.messages.record_status_event(message, StatusEvent(
                    status="failed", occurred_at=now, error_code=code, error_title=title[:500]))
                for hook in self._status_hooks:
                    await hook(uow, message)
                await uow.commit()
        return "failed"


class ReconcileUnconfirmedSend:
    """A send whose outcome stayed unknown (no wamid, no status webhook) is failed, never resent."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, status_hooks: Sequence[StatusHook] = ()) -> None:
        self._uow, self._clock = uow, clock
        self._status_hooks = list(status_hooks)  # e.g. an automation recipient is reported failed, not pending

    async def execute(self, organization_id: UUID, message_id: UUID) -> bool:
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id, for_update=True)
            if message is None or message.status != MessageStatus.QUEUED.value or message.wamid is not None:
                return False
            title = "Delivery outcome unknown: WhatsApp never confirmed the send; it was not retried."
            message.apply_status(MessageStatus.FAILED, now, error_title=title)
            await uow.messages.update(message)
            await uow.messages.record_status_event(message, StatusEvent(status="failed", occurred_at=now,
                                                                        error_title=title))
            for hook in self._status_hooks:
                await hook(uow, message)
            await uow.commit()
        return True
