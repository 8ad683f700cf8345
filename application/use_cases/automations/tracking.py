"""Keep each recipient's state moving with its messages, its replies and opt-outs; complete the automation
when every recipient's opening send is final."""

from __future__ import annotations

from collections.abc import Sequence, Set
from datetime import datetime
from uuid import UUID

import structlog

from application.events import progress_changed
from application.ports.flow_starter import FlowStarter
from application.ports.uow import UnitOfWork
from application.use_cases.automations.dispatch import recipient_variables
from domain.automations import AutomationStatus, Recipient, RecipientState
from domain.channel import Message, WhatsAppNumber
from domain.contacts import Contact

log = structlog.get_logger("pytake.automations")

DEFAULT_OPT_OUT_KEYWORDS = ("STOP", "PARAR", "SAIR", "CANCELAR", "UNSUBSCRIBE", "DESCADASTRAR")
TOKEN_PAUSE_REASON = ("WhatsApp rejected the number's access token (error {code}): update the token in the vault, "
                      "then resume the automation.")
REPLYABLE = (RecipientState.PENDING, RecipientState.SENT, RecipientState.DELIVERED, RecipientState.READ)
"""States in which a contact's message counts as a reply to the automation."""
_BY_MESSAGE_STATUS = {"sent": RecipientState.SENT, "delivered": RecipientState.DELIVERED,
                      "read": RecipientState.READ, "failed": RecipientState.FAILED}


class AutomationTracker:
    def __init__(self, *, flows: FlowStarter, opt_out_keywords: Sequence[str] = DEFAULT_OPT_OUT_KEYWORDS) -> None:
        self._flows = flows
        self._opt_out = {k.strip().upper() for k in opt_out_keywords if k.strip()}

    def is_opt_out(self, text: str | None) -> bool:
        return (text or "").strip().upper() in self._opt_out

    async def on_statuses(self, uow: UnitOfWork, messages: Sequence[Message], now: datetime, *,
                          credentials_rejected: Set[UUID] = frozenset()) -> None:
        """Messages whose status moved (inside the caller's transaction): their recipients follow. A send that
        failed because Meta refused the number's credentials (``credentials_rejected``) pauses the automation and
        puts its recipient back to pending instead."""
        recipients = await uow.automations.recipients_by_messages([m.id for m in messages])
        if not recipients:
            return
        changed: list[Recipient] = []
        settled: set[UUID] = set()  # automations with a recipient whose opening send became final
        for message in messages:
            recipient = recipients.get(message.id)
            if recipient is None:
                continue
            if message.status == "failed" and message.id in credentials_rejected:
                await self._pause_on_credentials(uow, recipient.automation_id, message.error_code, now)
                recipient.state, recipient.message_id, recipient.dispatched_at = RecipientState.PENDING, None, None
                recipient.updated_at = now
                changed.append(recipient)
                continue
            incoming = _BY_MESSAGE_STATUS.get(message.status)
            if incoming is None:
                continue
            new_state = recipient.state.advance(incoming)
            if new_state is RecipientState.FAILED and recipient.state is not RecipientState.FAILED:
                recipient.error_code, recipient.error_title = message.error_code, message.error_title
            if new_state is not recipient.state:
                if recipient.state is RecipientState.PENDING:
                    settled.add(recipient.automation_id)
                recipient.state, recipient.updated_at = new_state, now
                changed.append(recipient)
        await uow.automations.update_recipients(changed)
        # the automation row before the progress job: a dispatcher locks the row first and queues the same
        # deduplicated job last, and the other order deadlocked the two (PostgreSQL broke it after a second)
        for automation_id in sorted(settled):
            await self.complete_if_done(uow, automation_id, now)
        await progress_changed(uow, ((r.automation_id, r.organization_id) for r in changed), now)

    async def complete_if_done(self, uow: UnitOfWork, automation_id: UUID, now: datetime) -> bool:
        """A running automation whose dispatching is over completes once no recipient is pending. The row is
        locked before dispatching is looked at: a dispatcher finishing at the same moment holds it, so whichever
        of the two transactions commits second sees the other's work and completes the automation."""
        automation = await uow.automations.get(automation_id)
        if automation is None or automation.status is not AutomationStatus.RUNNING:
            return False
        automation = await uow.automations.get(automation_id, for_update=True)
        if automation is None or automation.dispatch_finished_at is None \
                or await uow.automations.pending_count(automation_id) > 0 or not automation.complete(now):
            return False
        await uow.automations.update(automation)
        log.info("automation.completed", automation_id=str(automation_id))
        return True

    async def _pause_on_credentials(self, uow: UnitOfWork, automation_id: UUID, code: int | None,
                                    now: datetime) -> None:
        automation = await uow.automations.get(automation_id, for_update=True)
        if automation is not None and automation.status in (AutomationStatus.RUNNING, AutomationStatus.SCHEDULED):
            automation.pause(now, TOKEN_PAUSE_REASON.format(code=code))
            await uow.automations.update(automation)
            log.warning("automation.paused_on_credentials", automation_id=str(automation.id))

    async def opt_out(self, uow: UnitOfWork, contact: Contact, recipients: Sequence[Recipient],
                      now: datetime) -> None:
        """The contact asked to stop: opted out, and skipped by the automations that have not reached it yet."""
        if not contact.opted_out:
            contact.set_opt_out(True, now)
            contact.updated_at = now
            await uow.contacts.update(contact)
        skipped = [r for r in recipients if r.state is RecipientState.PENDING and r.dispatched_at is None]
        for recipient in skipped:
            recipient.state, recipient.skip_reason, recipient.updated_at = RecipientState.SKIPPED, "opted_out", now
        await uow.automations.update_recipients(skipped)
        await progress_changed(uow, ((r.automation_id, r.organization_id) for r in skipped), now)

    async def on_reply(self, uow: UnitOfWork, number: WhatsAppNumber, contact: Contact,
                       recipients: Sequence[Recipient], now: datetime) -> bool:
        """The contact wrote: every automation that reached it counts a reply; an automation that opened
        with a template starts its flow now. True when such a flow started (it handles the message)."""
        started = False
        replied = [r for r in recipients if r.state in REPLYABLE and r.dispatched_at is not None]
        for recipient in replied:
            recipient.state, recipient.updated_at = RecipientState.REPLIED, now
            if recipient.execution_id is not None:
                continue
            automation = await uow.automations.get(recipient.automation_id)
            if automation is None or automation.template is None or automation.number_id != number.id \
                    or automation.status is AutomationStatus.CANCELLED:
                continue
            recipient.execution_id = await self._flows.start(
                uow, flow_id=automation.flow_id, number=number, contact=contact,
                variables=recipient_variables(automation, recipient), trigger="automation_reply",
                automation_id=automation.id, now=now)
            started = started or recipient.execution_id is not None
        await uow.automations.update_recipients(replied)
        await progress_changed(uow, ((r.automation_id, r.organization_id) for r in replied), now)
        return started
