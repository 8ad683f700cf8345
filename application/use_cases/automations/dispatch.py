"""Worker: dispatch an automation's opening messages at its rate, one recipient per transaction.

A recipient is marked dispatched in the same transaction that queues its opening message (or starts its
flow), so a worker killed at any point never gives anyone a second opening message: the rolled-back
recipient is simply dispatched again by the next run. Pause and cancel are seen before every recipient.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from application.events import progress_changed
from application.messaging.outbound import queue_outbound_many
from application.messaging.templates import unsendable_reason
from application.ports.channel import SendPacer
from application.ports.common import Clock
from application.ports.flow_starter import FlowStarter
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.automations.common import enqueue_dispatch
from application.use_cases.flows.runtime import contact_info
from domain.automations import Automation, AutomationStatus, Recipient, RecipientState
from domain.channel import WhatsAppNumber
from domain.contacts import Contact
from domain.errors import Unavailable
from domain.flows.interpolation import interpolate_deep

log = structlog.get_logger("pytake.automations")

BATCH_SECONDS = 0.25
MAX_BATCH = 100
OUTAGE_RETRY_SECONDS = 0.5
OUTAGE_PATIENCE_SECONDS = 60.0
"""How long a dispatcher keeps trying through a database outage before it gives the job back to the queue."""


def recipient_variables(automation: Automation, recipient: Recipient) -> dict[str, Any]:
    defaults = automation.config.get("variables") or {}
    return {**(defaults if isinstance(defaults, dict) else {}), **recipient.variables}


def template_content(template: dict[str, Any], variables: dict[str, Any], contact: Contact) -> dict[str, Any]:
    """The opening template with ``{{variables}}`` (and ``{{contact.*}}``) filled in per recipient."""
    components = interpolate_deep(template.get("components") or [], variables, contact_info(contact))
    return {"template": {"name": template["name"], "language": template.get("language") or "en_US",
                         "components": components}}


class DispatchAutomation:
    def __init__(self, *, uow: UnitOfWorkFactory, pacer: SendPacer, flows: FlowStarter, clock: Clock) -> None:
        self._uow, self._pacer, self._flows, self._clock = uow, pacer, flows, clock

    async def execute(self, organization_id: UUID, automation_id: UUID) -> int:
        """Dispatches until done, paused or cancelled; returns how many recipients it dispatched."""
        dispatched = 0
        automation = await self._ready(organization_id, automation_id)
        if automation is None:
            return 0
        # a quarter of a second's worth of recipients per transaction (at least one)
        batch = max(1, min(MAX_BATCH, math.ceil(automation.rate_per_second * BATCH_SECONDS)))
        outage = 0.0
        while True:
            try:
                wait = await self._pacer.reserve(f"automation:{automation_id}", automation.rate_per_second, batch)
                if wait > 0:
                    await asyncio.sleep(wait)
                sent, finished = await self._dispatch_batch(organization_id, automation_id, batch)
            except Unavailable:  # a database blip: go on as soon as it is back (the batch rolled back whole)
                if outage >= OUTAGE_PATIENCE_SECONDS:
                    raise  # the queue retries the job later
                await asyncio.sleep(OUTAGE_RETRY_SECONDS)
                outage += OUTAGE_RETRY_SECONDS
                continue
            outage = 0.0
            dispatched += sent
            if finished:
                break
        log.info("automation.dispatch_stopped", automation_id=str(automation_id), dispatched=dispatched)
        return dispatched

    async def _ready(self, organization_id: UUID, automation_id: UUID) -> Automation | None:
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            automation = await uow.automations.get(automation_id, for_update=True)
            if automation is None:
                return None
            if automation.status is AutomationStatus.SCHEDULED and automation.schedule_at and \
                    automation.schedule_at > now:
                await enqueue_dispatch(uow, automation, automation.schedule_at - now)
                await uow.commit()
                return None
            running = automation.begin_running(now)
            await uow.automations.update(automation)
            await uow.commit()
        return automation if running else None

    async def _dispatch_batch(self, organization_id: UUID, automation_id: UUID, size: int) -> tuple[int, bool]:
        """How many recipients got an opening message (skipped ones count 0), and whether dispatching is over
        (completed now, or paused, cancelled or gone)."""
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            automation = await uow.automations.get(automation_id, for_update=True)
            if automation is None or automation.status is not AutomationStatus.RUNNING:
                return 0, True
            recipients = await uow.automations.next_pending(automation_id, size + 1)  # one more: is this the last?
            last = len(recipients) <= size
            recipients = recipients[:size]
            if not recipients:
                await self._finish_dispatching(uow, automation, now)
                await uow.commit()
                return 0, True
            number = await uow.numbers.get(automation.number_id)
            contacts = await uow.contacts.get_many([r.contact_id for r in recipients])
            openings: list[tuple[Recipient, Contact]] = []  # template mode: queued together below
            sent = 0
            for recipient in recipients:
                contact = contacts.get(recipient.contact_id)
                if automation.template is not None and self._sendable(recipient, contact, number, now):
                    assert contact is not None
                    openings.append((recipient, contact))
                else:
                    sent += await self._dispatch(uow, automation, number, contact, recipient)
                recipient.updated_at = now
            template = automation.template
            refused = await unsendable_reason(uow, number, template["name"], template.get("language") or "en_US") \
                if openings and number is not None and template is not None else None
            if refused is not None:  # paused, disabled, deleted...: one clear reason, no send bound to fail
                for recipient, _ in openings:
                    recipient.state, recipient.error_title = RecipientState.FAILED, refused[:500]
                openings = []
            if openings and number is not None and template is not None:
                messages = await queue_outbound_many(uow, number=number, now=now, source="automation", items=[
                    (contact, "template", template_content(template, recipient_variables(automation, recipient),
                                                           contact)) for recipient, contact in openings])
                for (recipient, _), message in zip(openings, messages, strict=True):
                    recipient.message_id = message.id
                sent += len(openings)
            await uow.automations.update_recipients(recipients)
            await progress_changed(uow, [(automation.id, automation.organization_id)], now)
            if last:  # the automation row is locked: no other dispatcher holds recipients
                await self._finish_dispatching(uow, automation, now)
            await uow.commit()
        return sent, last

    @staticmethod
    async def _finish_dispatching(uow: UnitOfWork, automation: Automation, now: datetime) -> None:
        """Every recipient has its opening message queued: ``sending`` until every send is final (the status
        recorder completes it then), or completed at once when nothing is left to send."""
        automation.finish_dispatching(now)
        if await uow.automations.pending_count(automation.id) == 0:
            automation.complete(now)
        await uow.automations.update(automation)

    @staticmethod
    def _sendable(recipient: Recipient, contact: Contact | None, number: WhatsAppNumber | None,
                  now: datetime) -> bool:
        """Marks the recipient dispatched; skipped (contact gone or opted out) or failed (number gone) when it
        cannot get an opening message."""
        recipient.dispatched_at = now
        if contact is None or contact.opted_out:
            recipient.state = RecipientState.SKIPPED
            recipient.skip_reason = "contact_deleted" if contact is None else "opted_out"
            return False
        if number is None:
            recipient.state, recipient.error_title = RecipientState.FAILED, "The sending number no longer exists."
            return False
        return True

    async def _dispatch(self, uow: UnitOfWork, automation: Automation, number: WhatsAppNumber | None,
                        contact: Contact | None, recipient: Recipient) -> bool:
        """Flow mode: the flow starts (and queues its own opening message). False when nobody got one."""
        now = self._clock.now()
        if not self._sendable(recipient, contact, number, now) or automation.template is not None:
            return False
        assert contact is not None and number is not None
        variables = recipient_variables(automation, recipient)
        execution_id = await self._flows.start(uow, flow_id=automation.flow_id, number=number, contact=contact,
                                               variables=variables, trigger="automation",
                                               automation_id=automation.id, now=now)
        if execution_id is None:
            recipient.state, recipient.skip_reason = RecipientState.SKIPPED, "contact_busy_in_another_flow"
            return False
        recipient.execution_id = execution_id
        opening = await uow.messages.first_outbound_since(contact.id, number.id, now)
        recipient.message_id = opening.id if opening else None
        return True
