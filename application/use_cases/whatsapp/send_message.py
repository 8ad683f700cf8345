"""Queue an outbound message: stored as ``queued``, which is what the sender picks up once this commits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from application.authorization import Actor, Permission
from application.messaging import conversations
from application.messaging.outbound import contact_for, queue_outbound, sending_number
from application.messaging.templates import check_template_send
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.channel import OutsideCustomerServiceWindow
from domain.errors import InvalidValue

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


class SendMessage:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: SendMessageCommand) -> QueuedMessage:
        actor.require(Permission.SEND_MESSAGES)
        content = build_content(cmd)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            number = await sending_number(uow, cmd.from_number_id)
            if cmd.type == "template":
                await check_template_send(uow, number, cmd.template_id or "", cmd.language, cmd.components)
            contact = await contact_for(uow, actor.organization_id, cmd.to, now)
            if cmd.type in FREE_FORM_TYPES:
                conversation = await uow.conversations.get(number.id, contact.id)
                if conversation is None or not conversation.window_open(now):
                    raise OutsideCustomerServiceWindow()
            message = await queue_outbound(uow, number=number, contact=contact, kind=cmd.type, content=content,
                                           now=now)
            await conversations.agent_replied(uow, number.id, contact.id, actor.user_id, now)
            await uow.commit()
        return QueuedMessage(message_id=message.id, status=message.status)
