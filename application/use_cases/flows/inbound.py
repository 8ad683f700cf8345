"""Which flow an inbound message starts; a conversation handed to a human goes back to the bot when released.

(Routing itself, in order with opt-outs and automation replies, is ``application.messaging.routing``.)
"""

from __future__ import annotations

from uuid import UUID

import structlog

from application import events
from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.contacts import ContactNotFound
from domain.flows.records import Flow, TriggerType

log = structlog.get_logger("pytake.flows")


def triggered_flow(flows: list[Flow], text: str | None) -> tuple[Flow, str] | None:
    """The flow an inbound message starts: the first keyword match, else the first default flow."""
    for flow in flows:
        if flow.trigger is not None and flow.trigger.matches(text):
            return flow, "keyword"
    for flow in flows:
        if flow.trigger is not None and flow.trigger.type is TriggerType.DEFAULT:
            return flow, "default"
    return None


class ReleaseConversation:
    """An agent gives the conversation back to the bot: the contact's handoff ends on every number."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, contact_id: UUID) -> int:
        actor.require(Permission.SEND_MESSAGES)
        now = self._clock.now()
        released = 0
        async with self._uow(actor.organization_id) as uow:
            if await uow.contacts.get(contact_id) is None:
                raise ContactNotFound()
            numbers, _ = await uow.numbers.list(limit=200, offset=0)
            for number in numbers:
                conversation = await uow.conversations.get(number.id, contact_id)
                if conversation is None or conversation.handoff_at is None:
                    continue
                locked = await uow.conversations.get_for_update(number.id, contact_id, now)
                locked.handoff_at, locked.updated_at = None, now
                await uow.conversations.update(locked)
                events.conversation_updated(uow, [locked], "released")
                released += 1
            await uow.commit()
        return released
