"""Inbound messages drive flows; a conversation handed to a human keeps the bot silent until released."""

from __future__ import annotations

from uuid import UUID

import structlog

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.flows.runtime import FlowRuntime
from domain.channel import Message, WhatsAppNumber
from domain.contacts import ContactNotFound
from domain.flows import ContactReplied
from domain.flows.records import Flow, FlowNotActive, TriggerType
from domain.messaging import InboundMessage

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


class FlowInboundHook:
    """``ProcessWebhook``'s inbound hook, run inside the organization's transaction for each NEW message
    (duplicates never get here, so a redelivered webhook cannot advance a flow twice)."""

    def __init__(self, *, runtime: FlowRuntime, clock: Clock) -> None:
        self._runtime, self._clock = runtime, clock

    async def on_inbound(self, uow: UnitOfWork, number: WhatsAppNumber, message: Message,
                         inbound: InboundMessage) -> None:
        if message.contact_id is None or message.content.get("handled_by"):
            return  # e.g. an opt-out keyword or an automation reply, handled by another hook
        conversation = await uow.conversations.get(number.id, message.contact_id)
        if conversation is not None and conversation.handoff_at is not None:
            return  # a human has the conversation
        now = self._clock.now()
        execution = await uow.flow_executions.running_for(number.id, message.contact_id, for_update=True)
        if execution is not None:
            event = ContactReplied(message_id=str(message.id), text=inbound.text, reply_id=inbound.reply_id)
            if await self._runtime.deliver(uow, execution, event, now):
                message.content["handled_by"] = "flow"
            return
        found = triggered_flow(await uow.flows.with_triggers(), inbound.text)
        contact = await uow.contacts.get(message.contact_id) if found else None
        if found is None or contact is None:
            return
        flow, trigger = found
        try:
            started = await self._runtime.start(uow, flow_id=flow.id, number=number, contact=contact, variables={},
                                                trigger=trigger, now=now)
        except FlowNotActive:
            return
        if started is not None:
            message.content["handled_by"] = "flow"
            log.info("flow.triggered", flow_id=str(flow.id), trigger=trigger, execution_id=str(started))


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
                released += 1
            await uow.commit()
        return released
