"""System messages (``type: system``): notices Meta reports about a user, never the user's own words.

They are stored as messages of direction ``system`` (so the thread shows "changed their number" where it
happened) but nothing else an inbound message does happens: the 24-hour window is not opened or refreshed,
and no opt-out keyword, automation reply, hand-off or flow sees them. What they report is applied to the contact:

- ``user_changed_number``: the contact moves to the new number (``system.wa_id``) and takes the new BSUID when
  one is given; when the new number (or BSUID) already belongs to another contact, that contact is merged into
  this one (everything moves, nothing is lost);
- ``user_changed_user_id``: the contact found by its previous BSUID takes the new one (merging, likewise, a
  contact that already has it);
- ``customer_identity_changed`` and anything else: recorded only.

Every applied change is logged (``contact.identity_changed``) and the event counts as ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import uuid4

import structlog

from application.messaging.identities import Sender, merge_all, survivor_of
from application.messaging.refs import Count, EventRef
from application.ports.uow import UnitOfWork
from domain.channel import RECEIVED, Message, WhatsAppNumber
from domain.contacts import (
    Contact,
    InvalidBsuid,
    InvalidWhatsAppId,
    normalize_bsuid,
    normalize_whatsapp_id,
    whatsapp_id_spellings,
)
from domain.messaging import IdentityChange, MessageDirection, SystemKind

log = structlog.get_logger("pytake.contacts")


def _number(raw: str | None) -> str | None:
    try:
        return normalize_whatsapp_id(raw) if raw else None
    except InvalidWhatsAppId:
        return None


def _bsuid(raw: str | None) -> str | None:
    try:
        return normalize_bsuid(raw) if raw else None
    except InvalidBsuid:
        return None


def sender_of(wa_id: str | None, user_id: str | None) -> Sender | None:
    """The normalized identity of a webhook's user; None when it carries neither a valid number nor BSUID."""
    number, bsuid = _number(wa_id), _bsuid(user_id)
    return Sender(number, bsuid) if number or bsuid else None


class IdentityChanges:
    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                    now: datetime, count: Count) -> None:
        changes = sorted(((r, r.event) for r in refs if isinstance(r.event, IdentityChange)),
                         key=lambda x: (x[1].timestamp, x[0].seq, x[0].index))
        known = set(await uow.messages.get_many_by_wamids(sorted({e.wamid for _, e in changes})))
        for ref, event in changes:
            if event.wamid in known:
                count(ref, "duplicates")
                continue
            number = numbers[event.phone_number_id]
            contact, applied = await self._apply_one(uow, number, event, now)
            stored = await uow.messages.add_inbound_many([_stored(event, number, contact, now)])
            known.add(event.wamid)  # a second copy in this batch is a duplicate
            if not stored:
                count(ref, "duplicates")
                continue
            log.info("contact.identity_changed", kind=event.kind.value, raw_kind=event.raw_kind,
                     contact_id=str(contact.id) if contact else None, applied=applied)
            count(ref, "system")

    async def _apply_one(self, uow: UnitOfWork, number: WhatsAppNumber, event: IdentityChange, now: datetime
                         ) -> tuple[Contact | None, dict[str, Any]]:
        old_number = _number(event.from_wa_id)
        old_bsuids = [b for b in (_bsuid(event.previous_user_id), _bsuid(event.from_user_id)) if b]
        current = await uow.contacts.find_by_identities(
            list(whatsapp_id_spellings(old_number)) if old_number else [], old_bsuids)
        contact = survivor_of(current) if current else None
        new_number, new_bsuid = _number(event.new_wa_id), _bsuid(event.new_user_id)
        applied: dict[str, Any] = {}
        if event.kind is SystemKind.USER_CHANGED_NUMBER and new_number is not None:
            contact = await self._move(uow, number, contact, current, Sender(new_number, new_bsuid), now)
            applied = {"whatsapp_id": new_number, **({"bsuid": new_bsuid} if new_bsuid else {})}
        elif event.kind is SystemKind.USER_CHANGED_USER_ID and new_bsuid is not None and contact is not None:
            contact = await self._move(uow, number, contact, current, Sender(None, new_bsuid), now)
            applied = {"bsuid": new_bsuid}
        return contact, applied

    @staticmethod
    async def _move(uow: UnitOfWork, number: WhatsAppNumber, contact: Contact | None, current: list[Contact],
                    new: Sender, now: datetime) -> Contact:
        """``contact`` (and any duplicate of its old identity) takes the ``new`` identity; contacts already
        holding it are merged into it. Without a known contact, the one holding the new identity is kept, or a
        new contact is added."""
        holders = await uow.contacts.find_by_identities(
            list(whatsapp_id_spellings(new.whatsapp_id)) if new.whatsapp_id else [],
            [new.bsuid] if new.bsuid else [])
        everyone = {c.id: c for c in [*current, *holders]}
        if contact is None and not everyone:
            created = Contact(id=uuid4(), organization_id=number.organization_id, whatsapp_id=new.whatsapp_id,
                              bsuid=new.bsuid, created_at=now, updated_at=now)
            await uow.contacts.add_new([created])
            return created
        survivor = contact or survivor_of(everyone.values())
        await merge_all(uow, survivor, everyone.values(), now)
        if new.whatsapp_id is not None:
            survivor.whatsapp_id = new.whatsapp_id
        if new.bsuid is not None:
            survivor.bsuid = new.bsuid
        survivor.updated_at = now
        await uow.contacts.update(survivor)
        return survivor


def _stored(event: IdentityChange, number: WhatsAppNumber, contact: Contact | None, now: datetime) -> Message:
    content: dict[str, object] = {"system_type": event.raw_kind or event.kind.value, "body": event.body,
                                  "wa_id": event.new_wa_id, "user_id": event.new_user_id,
                                  "previous_wa_id": event.from_wa_id, "previous_user_id": event.previous_user_id}
    return Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id,
                   contact_id=contact.id if contact else None, direction=MessageDirection.SYSTEM, type="system",
                   content={k: v for k, v in content.items() if v is not None}, status=RECEIVED, wamid=event.wamid,
                   source="whatsapp", occurred_at=event.timestamp, created_at=now, updated_at=now)
