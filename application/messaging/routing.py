"""What a new inbound message does, decided in one place and in this order:

1. an opt-out keyword (``STOP``...) opts the contact out of automations, and nothing else happens;
2. every automation that reached the contact counts a reply; one that opened with a template starts its flow,
   which then owns the message;
3. a conversation handed to a human keeps the bot silent;
4. the contact's running flow execution gets the message as its answer, or else a flow whose trigger
   matches starts.

Routing runs inside the organization's transaction of a webhook batch. What it needs about the batch's
contacts (their automation recipients, their running executions, the conversations) is read up front in a
few statements (:meth:`InboundRouter.prepare`), so a message that nothing handles costs no query at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import structlog

from application.ports.uow import UnitOfWork
from application.use_cases.automations.tracking import REPLYABLE, AutomationTracker
from application.use_cases.flows.inbound import triggered_flow
from application.use_cases.flows.runtime import FlowRuntime
from domain.automations import Recipient
from domain.channel import Conversation, Message, WhatsAppNumber
from domain.contacts import Contact
from domain.flows import ContactReplied
from domain.flows.records import Flow, FlowExecution, FlowNotActive
from domain.messaging import InboundMessage

log = structlog.get_logger("pytake.inbound")


class InboundOutcome(StrEnum):
    OPTED_OUT = "opted_out"
    AUTOMATION = "automation"
    HUMAN = "human"
    FLOW = "flow"
    UNHANDLED = "unhandled"


@dataclass(slots=True)
class InboundBatch:
    """What routing knows about the contacts of one batch (read once, locked, kept current as it goes)."""

    conversations: dict[tuple[UUID, UUID], Conversation]
    recipients: dict[UUID, list[Recipient]]
    executions: dict[tuple[UUID, UUID], FlowExecution]
    stale: set[tuple[UUID, UUID]] = field(default_factory=set)  # a flow started here: read its execution again
    flows: list[Flow] | None = None  # the organization's triggered flows, read when first needed


class InboundRouter:
    def __init__(self, *, automations: AutomationTracker, runtime: FlowRuntime) -> None:
        self._automations, self._runtime = automations, runtime

    @property
    def automations(self) -> AutomationTracker:
        return self._automations

    @staticmethod
    async def prepare(uow: UnitOfWork, conversations: dict[tuple[UUID, UUID], Conversation]) -> InboundBatch:
        """Recipients and running executions of the conversations' contacts, locked in id order (the
        conversations, locked by the caller first, keep the lock order of every other path)."""
        pairs = sorted(conversations)
        recipients = await uow.automations.recipients_of_contacts(sorted({c for _, c in pairs}), REPLYABLE)
        executions = await uow.flow_executions.running_for_many(pairs)
        return InboundBatch(conversations=conversations, recipients=recipients, executions=executions)

    async def route(self, uow: UnitOfWork, batch: InboundBatch, number: WhatsAppNumber, contact: Contact,
                    message: Message, inbound: InboundMessage, now: datetime) -> InboundOutcome:
        pair = (number.id, contact.id)
        recipients = batch.recipients.get(contact.id, [])
        if self._automations.is_opt_out(inbound.text):
            await self._automations.opt_out(uow, contact, recipients, now)
            return InboundOutcome.OPTED_OUT
        if await self._automations.on_reply(uow, number, contact, recipients, now):
            batch.stale.add(pair)
            return InboundOutcome.AUTOMATION
        if batch.conversations[pair].state.human:
            return InboundOutcome.HUMAN
        execution = await self._execution(uow, batch, pair)
        if execution is not None:
            event = ContactReplied(message_id=str(message.id), text=inbound.text, reply_id=inbound.reply_id)
            if await self._runtime.deliver(uow, execution, event, now):
                return InboundOutcome.FLOW
            return InboundOutcome.UNHANDLED
        return await self._trigger(uow, batch, number, contact, inbound, now)

    async def _execution(self, uow: UnitOfWork, batch: InboundBatch, pair: tuple[UUID, UUID]
                         ) -> FlowExecution | None:
        if pair in batch.stale:
            batch.stale.discard(pair)
            found = await uow.flow_executions.running_for(*pair, for_update=True)
            if found is None:
                batch.executions.pop(pair, None)
            else:
                batch.executions[pair] = found
        execution = batch.executions.get(pair)
        return execution if execution is not None and execution.is_running else None

    async def _trigger(self, uow: UnitOfWork, batch: InboundBatch, number: WhatsAppNumber, contact: Contact,
                       inbound: InboundMessage, now: datetime) -> InboundOutcome:
        if batch.flows is None:
            batch.flows = await uow.flows.with_triggers()
        found = triggered_flow(batch.flows, inbound.text)
        if found is None:
            return InboundOutcome.UNHANDLED
        flow, trigger = found
        try:
            started = await self._runtime.start(uow, flow_id=flow.id, number=number, contact=contact, variables={},
                                                trigger=trigger, now=now)
        except FlowNotActive:
            return InboundOutcome.UNHANDLED
        if started is None:
            return InboundOutcome.UNHANDLED
        batch.stale.add((number.id, contact.id))
        log.info("flow.triggered", flow_id=str(flow.id), trigger=trigger, execution_id=str(started))
        return InboundOutcome.FLOW

