"""Mark an inbound message read (optionally with the typing indicator): a job is queued (202)."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.jobs import MarkRead, enqueue
from application.ports.uow import UnitOfWorkFactory
from domain.channel import RECEIVED, MessageNotFound
from domain.errors import RuleViolation


class NotAnInboundMessage(RuleViolation):
    code = "not_an_inbound_message"
    default_message = "Only a message the contact sent can be marked as read."


class MarkMessageRead:
    """Queue the read receipt of an inbound message (and the typing indicator when a reply is coming)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, message_id: UUID, *, typing: bool) -> None:
        actor.require(Permission.SEND_MESSAGES)
        async with self._uow(actor.organization_id) as uow:
            message = await uow.messages.get(message_id)
            if message is None:
                raise MessageNotFound()
            if message.status != RECEIVED or not message.wamid:
                raise NotAnInboundMessage()
            await enqueue(uow, MarkRead(organization_id=actor.organization_id, message_id=message_id,
                                        typing=typing))
            await uow.commit()
