"""Keep each recipient's state moving with its messages, its replies and opt-outs."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from application.ports.common import Clock
from application.ports.flow_starter import FlowStarter
from application.ports.uow import UnitOfWork
from application.ports.whatsapp import AUTH_CODES
from application.use_cases.automations.dispatch import recipient_variables
from domain.automations import AutomationStatus, RecipientState
from domain.channel import Message, WhatsAppNumber
from domain.messaging import InboundMessage

log = structlog.get_logger("pytake.automations")

DEFAULT_OPT_OUT_KEYWORDS = ("STOP", "PARAR", "SAIR", "CANCELAR", "UNSUBSCRIBE", "DESCADASTRAR")
TOKEN_PAUSE_REASON = ("WhatsApp rejected the number's access token (error {code}): update the token in the vault, "
                      "then resume the automation.")
_BY_MESSAGE_STATUS = {"sent": RecipientState.SENT, "delivered": RecipientState.DELIVERED,
                      "read": RecipientState.READ, "failed": RecipientState.FAILED}


class AutomationTracker:
    def __init__(self, *, flows: FlowStarter, clock: Clock,
                 opt_out_keywords: Sequence[str] = DEFAULT_OPT_OUT_KEYWORDS) -> None:
        self._flows, self._clock = flows, clock
        self._opt_out = {k.strip().upper() for k in opt_out_keywords if k.strip()}

    async def on_status(self, uow: UnitOfWork, message: Message) -> None:
        """A message's status changed (inside the caller's transaction)."""
        recipient = await uow.automations.recipient_by_message(message.id)
        if recipient is None:
            return
        now = self._clock.now()
        if message.status == "failed" and message.error_code in AUTH_CODES:
            automation = await uow.automations.get(recipient.automation_id, for_update=True)
            if automation is not None and automation.status in (AutomationStatus.RUNNING, AutomationStatus.SCHEDULED):
                automation.pause(now, TOKEN_PAUSE_REASON.format(code=message.error_code))
                await uow.automations.update(automation)
                log.warning("automation.paused_on_credentials", automation_id=str(automation.id))
            recipient.state, recipient.message_id, recipient.dispatched_at = RecipientState.PENDING, None, None
            recipient.updated_at = now
            await uow.automations.update_recipient(recipient)
            return
        incoming = _BY_MESSAGE_STATUS.get(message.status)
        if incoming is None:
            return
        new_state = recipient.state.advance(incoming)
        if new_state is RecipientState.FAILED and recipient.state is not RecipientState.FAILED:
            recipient.error_code, recipient.error_title = message.error_code, message.error_title
        if new_state is not recipient.state:
            recipient.state, recipient.updated_at = new_state, now
            await uow.automations.update_recipient(recipient)

    async def on_inbound(self, uow: UnitOfWork, number: WhatsAppNumber, message: Message,
                         inbound: InboundMessage) -> None:
        """A new inbound message: opt-out keywords, replies to automations, the flow after a template."""
        if message.contact_id is None:
            return
        now = self._clock.now()
        if (inbound.text or "").strip().upper() in self._opt_out:
            contact = await uow.contacts.get(message.contact_id)
            if contact is not None and not contact.opted_out:
                contact.set_opt_out(True, now)
                contact.updated_at = now
                await uow.contacts.update(contact)
            for recipient in await uow.automations.recipients_of_contact(message.contact_id, [RecipientState.PENDING]):
                if recipient.dispatched_at is None:
                    recipient.state, recipient.skip_reason, recipient.updated_at = \
                        RecipientState.SKIPPED, "opted_out", now
                    await uow.automations.update_recipient(recipient)
            message.content["handled_by"] = "opt_out"
            return
        replied = (RecipientState.PENDING, RecipientState.SENT, RecipientState.DELIVERED, RecipientState.READ)
        for recipient in await uow.automations.recipients_of_contact(message.contact_id, replied):
            if recipient.dispatched_at is None:
                continue
            recipient.state, recipient.updated_at = RecipientState.REPLIED, now
            automation = await uow.automations.get(recipient.automation_id)
            if recipient.execution_id is None and automation is not None and automation.template is not None \
                    and automation.number_id == number.id and automation.status is not AutomationStatus.CANCELLED:
                contact = await uow.contacts.get(message.contact_id)
                if contact is not None:
                    recipient.execution_id = await self._flows.start(
                        uow, flow_id=automation.flow_id, number=number, contact=contact,
                        variables=recipient_variables(automation, recipient), trigger="automation_reply",
                        automation_id=automation.id, now=now)
                    if recipient.execution_id is not None:
                        message.content["handled_by"] = "automation"
            await uow.automations.update_recipient(recipient)
