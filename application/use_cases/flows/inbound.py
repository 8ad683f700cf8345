"""Which flow an inbound message starts; a conversation handed to a human goes back to the bot when released.

(Routing itself, in order with opt-outs and automation replies, is ``application.messaging.routing``.)
"""

from __future__ import annotations

from uuid import UUID

import structlog

from application.authorization import Actor, Permission
from application.messaging import conversations
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
    """``POST /contacts/{id}/release``: every conversation of the contact a human has is closed (the bot answers
    again), the same as ``POST /conversations/{id}/close`` on each."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, contact_id: UUID) -> int:
        actor.require(Permission.SEND_MESSAGES)
        now = self._clock.now()
        released = 0
        async with self._uow(actor.organization_id) as uow:
            if await uow.contacts.get(contact_id) is None:
                raise ContactNotFound()
            for conversation in await uow.conversations.of_contact(contact_id, for_update=True):
                if conversation.state.human and await conversations.close(uow, conversation, now):
                    released += 1
            await uow.commit()
        return released
