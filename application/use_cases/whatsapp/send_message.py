"""Queue an outbound message: stored as `queued` and its send enqueued in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.whatsapp.jobs import SEND_MESSAGE_JOB
from domain.channel import (
    Message,
    NoActiveNumber,
    OutsideCustomerServiceWindow,
    WhatsAppNumber,
    WhatsAppNumberNotFound,
)
from domain.contacts import Contact, normalize_whatsapp_id
from domain.errors import InvalidValue
from domain.messaging import MessageDirection, MessageStatus

TEXT_LIMIT = 4096
FREE_FORM_TYPES = {"text", "interactive"}


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageCommand:
    to: str
    message: str | None = None
    type: str = "text"
    template_id: str | None = None
    language: str = "en_US"
    components: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    from_number_id: UUID | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedMessage:
    message_id: UUID
    status: str


def build_content(cmd: SendMessageCommand) -> dict[str, Any]:
    """Validate the request against WhatsApp's limits and build the stored content."""
    if cmd.type == "template":
        if not cmd.template_id:
            raise InvalidValue("template_id (the approved template's name) is required for type 'template'.")
        return {"template": {"name": cmd.template_id, "language": cmd.language, "components": cmd.components}}
    text = (cmd.message or "").strip()
    if not text:
        raise InvalidValue("message must not be empty.")
    if cmd.type == "text":
        if len(text) > TEXT_LIMIT:
            raise InvalidValue(f"A text message has at most {TEXT_LIMIT} characters.")
        return {"text": text}
    if cmd.type == "interactive":
        if not 1 <= len(cmd.buttons) <= 3:
            raise InvalidValue("An interactive message needs 1 to 3 buttons.")
        titles = [title for _, title in cmd.buttons]
        if any(not t or len(t) > 20 for t in titles) or len(set(titles)) != len(titles):
            raise InvalidValue("Button titles are 1 to 20 characters and unique.")
        if len(text) > 1024:
            raise InvalidValue("An interactive message body has at most 1024 characters.")
        return {"text": text, "buttons": [{"id": i, "title": t} for i, t in cmd.buttons]}
    raise InvalidValue("type must be 'text', 'template' or 'interactive'.")


async def sending_number(uow: UnitOfWork, number_id: UUID | None) -> WhatsAppNumber:
    if number_id is not None:
        number = await uow.numbers.get(number_id)
        if number is None:
            raise WhatsAppNumberNotFound()
    else:
        number = await uow.numbers.default_active()
        if number is None:
            raise NoActiveNumber()
    number.ensure_can_send()
    return number


async def contact_for(uow: UnitOfWork, organization_id: UUID, whatsapp_id: str, now: datetime) -> Contact:
    contact = await uow.contacts.get_by_whatsapp_id(whatsapp_id)
    if contact is None:  # two webhooks from a new number may race here: get_or_add lets both through
        contact = await uow.contacts.get_or_add(Contact(
            id=uuid4(), organization_id=organization_id, whatsapp_id=whatsapp_id, created_at=now, updated_at=now))
    return contact


async def queue_outbound(uow: UnitOfWork, *, number: WhatsAppNumber, contact: Contact, kind: str,
                         content: dict[str, Any], now: datetime, source: str = "api", send: bool = True) -> Message:
    """Store a queued outbound message and enqueue its send (the caller commits).

    ``send=False`` only stores it: the caller enqueues the send itself (flows send a batch in order)."""
    message = Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id,
                      contact_id=contact.id, direction=MessageDirection.OUTBOUND, type=kind, content=content,
                      status=MessageStatus.QUEUED.value, source=source, occurred_at=now, created_at=now,
                      updated_at=now)
    await uow.messages.add(message)
    if not send:
        return message
    await uow.jobs.enqueue(SEND_MESSAGE_JOB, {"organization_id": str(number.organization_id),
                                              "message_id": str(message.id)}, dedupe_key=f"send:{message.id}")
    return message


class SendMessage:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: SendMessageCommand) -> QueuedMessage:
        actor.require(Permission.SEND_MESSAGES)
        content = build_content(cmd)
        whatsapp_id = normalize_whatsapp_id(cmd.to)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            number = await sending_number(uow, cmd.from_number_id)
            contact = await contact_for(uow, actor.organization_id, whatsapp_id, now)
            if cmd.type in FREE_FORM_TYPES:
                conversation = await uow.conversations.get(number.id, contact.id)
                if conversation is None or not conversation.window_open(now):
                    raise OutsideCustomerServiceWindow()
            message = await queue_outbound(uow, number=number, contact=contact, kind=cmd.type, content=content,
                                           now=now)
            await uow.commit()
        return QueuedMessage(message_id=message.id, status=message.status)
