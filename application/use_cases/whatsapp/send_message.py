"""Queue an outbound message: stored as ``queued``, which is what the sender picks up once this commits."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.messaging import conversations
from application.messaging.outbound import contact_for, queue_outbound, sending_number
from application.messaging.templates import check_template_send
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.message_content import SendMessageCommand, build_content
from domain.channel import OutsideCustomerServiceWindow

FREE_FORM_EXEMPT = {"template"}
"""Every type but templates needs the contact's 24-hour customer service window to be open."""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedMessage:
    message_id: UUID
    status: str


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
            if cmd.type not in FREE_FORM_EXEMPT:
                conversation = await uow.conversations.get(number.id, contact.id)
                if conversation is None or not conversation.window_open(now):
                    raise OutsideCustomerServiceWindow()
            message = await queue_outbound(uow, number=number, contact=contact, kind=cmd.type, content=content,
                                           now=now)
            await conversations.agent_replied(uow, number.id, contact.id, actor.user_id, now)
            await uow.commit()
        return QueuedMessage(message_id=message.id, status=message.status)


__all__ = ["QueuedMessage", "SendMessage", "SendMessageCommand", "build_content"]
