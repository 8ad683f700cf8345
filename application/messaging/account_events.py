"""Webhook fields about the account rather than a conversation: ``account_update``,
``phone_number_quality_update`` and ``user_preferences``, applied inside the organization's transaction.

- ``account_update``: the WABA's standing is stored on each of its numbers (``account_status``): ``banned``
  (DISABLED_UPDATE / DISABLE) stops sending (the sender fails the number's queued messages with a clear reason,
  and new sends are refused with ``whatsapp_account_banned``), ``restricted`` (ACCOUNT_RESTRICTION) is stored and
  shown, ``reinstated`` (DISABLED_UPDATE / REINSTATE) clears it. Other events change nothing.
- ``phone_number_quality_update``: ``THROUGHPUT_UPGRADE`` raises the number's ``throughput_mps`` to 1,000 (the
  sender paces by it from its next round); ``FLAGGED`` / ``UNFLAGGED`` set ``quality_rating`` RED / GREEN.
- ``user_preferences`` (``marketing_messages``): ``stop`` opts the contact out of automations (pending
  campaign recipients are skipped), ``resume`` opts it back in. The contact is found like any sender (number,
  ninth-digit spelling, BSUID) and added when unknown, so a later campaign respects the choice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

import structlog

from application.messaging.identities import ContactResolver
from application.messaging.refs import Count, EventRef
from application.messaging.system_events import sender_of
from application.ports.uow import UnitOfWork
from application.use_cases.automations.tracking import AutomationTracker
from domain.automations import RecipientState
from domain.channel import ACCOUNT_BANNED, ACCOUNT_RESTRICTED, WhatsAppNumber
from domain.messaging import AccountUpdate, NumberQualityUpdate, UserPreference

log = structlog.get_logger("pytake.account")

HIGH_THROUGHPUT_MPS = 1000
"""Messages per second of a number after Meta's THROUGHPUT_UPGRADE (Meta: throughput)."""
_STANDING = {"banned": ACCOUNT_BANNED, "restricted": ACCOUNT_RESTRICTED, "reinstated": None}
_QUALITY = {"FLAGGED": "RED", "UNFLAGGED": "GREEN"}
_NOT_DIGIT = re.compile(r"\D")


class AccountEvents:
    def __init__(self, *, automations: AutomationTracker, resolver: ContactResolver) -> None:
        self._automations, self._resolver = automations, resolver

    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                    now: datetime, count: Count) -> None:
        mine = [n for n in numbers.values() if n.organization_id == uow.organization_id]
        for ref in refs:
            event = ref.event
            if isinstance(event, AccountUpdate):
                await self._account(uow, [n for n in mine if n.waba_id == event.waba_id], event, now)
                count(ref, "account_updates")
            elif isinstance(event, NumberQualityUpdate):
                display = _NOT_DIGIT.sub("", event.display_phone_number)
                targets = [n for n in mine if n.waba_id == event.waba_id
                           and _NOT_DIGIT.sub("", n.phone_number) == display]
                await self._quality(uow, targets, event, now)
                count(ref, "quality_updates" if targets else "unknown_number")
            elif isinstance(event, UserPreference):
                count(ref, await self._preference(uow, numbers[event.phone_number_id], event, now))

    @staticmethod
    async def _account(uow: UnitOfWork, targets: Sequence[WhatsAppNumber], event: AccountUpdate,
                       now: datetime) -> None:
        if event.standing not in _STANDING:
            log.info("account.update_recorded", waba_id=event.waba_id, meta_event=event.event, detail=event.detail)
            return
        for stale in targets:
            number = await uow.numbers.get(stale.id)
            if number is None:
                continue
            number.account_status, number.account_status_at, number.updated_at = _STANDING[event.standing], now, now
            await uow.numbers.update(number)
            log.warning("account.standing_changed", number_id=str(number.id), waba_id=event.waba_id,
                        meta_event=event.event, standing=event.standing, detail=event.detail)

    @staticmethod
    async def _quality(uow: UnitOfWork, targets: Sequence[WhatsAppNumber], event: NumberQualityUpdate,
                       now: datetime) -> None:
        for stale in targets:
            number = await uow.numbers.get(stale.id)
            if number is None:
                continue
            if event.event == "THROUGHPUT_UPGRADE":
                number.throughput_mps = max(number.throughput_mps, HIGH_THROUGHPUT_MPS)
            number.quality_rating = _QUALITY.get(event.event, number.quality_rating)
            number.updated_at = now
            await uow.numbers.update(number)
            log.info("account.number_quality", number_id=str(number.id), meta_event=event.event,
                     throughput_mps=number.throughput_mps, quality_rating=number.quality_rating,
                     limit=event.current_limit)

    async def _preference(self, uow: UnitOfWork, number: WhatsAppNumber, event: UserPreference,
                          now: datetime) -> str:
        sender = sender_of(event.wa_id, event.user_id)
        if sender is None or event.category != "marketing_messages" or event.value not in ("stop", "resume"):
            return "ignored"
        contacts = await self._resolver.resolve(uow, number.organization_id, {sender: None}, now)
        contact = contacts[sender]
        if event.value == "stop":
            pending = await uow.automations.recipients_of_contacts([contact.id], [RecipientState.PENDING])
            await self._automations.opt_out(uow, contact, pending.get(contact.id, []), now)
        elif contact.opted_out:
            contact.set_opt_out(False, now)
            contact.updated_at = now
            await uow.contacts.update(contact)
        log.info("contact.marketing_preference", contact_id=str(contact.id), value=event.value)
        return "preferences"
