"""Who wrote: a webhook's sender (a phone number, a BSUID or both) -> the organization's one contact.

A sender matches a contact by its number, by the number's Brazilian ninth-digit variant
(:func:`domain.contacts.ninth_digit_variant`) or by its BSUID. The whole batch is looked up in one statement;
senders without a contact are added in one more, and read again. When a sender matches several contacts (a
contact known by phone and another by BSUID, or two spellings of one Brazilian number), they are the same
person: the oldest contact absorbs the others (:meth:`ContactRepository.merge_into`: messages, conversations,
flow executions and automation recipients move, nothing is lost). The contact then learns what it lacked: the
BSUID, the phone number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from application.ports.uow import TransactionConflict, UnitOfWork
from domain.contacts import Contact, whatsapp_id_spellings

log = structlog.get_logger("pytake.contacts")


@dataclass(frozen=True, slots=True)
class Sender:
    """A normalized identity from a webhook: a phone number (wa_id), a BSUID, or both."""

    whatsapp_id: str | None
    bsuid: str | None

    @property
    def key(self) -> tuple[str, str]:
        return self.whatsapp_id or "", self.bsuid or ""

    def same_as(self, other: Sender) -> bool:
        if self.bsuid is not None and self.bsuid == other.bsuid:
            return True
        return self.whatsapp_id is not None and other.whatsapp_id in whatsapp_id_spellings(self.whatsapp_id)

    def matches(self, contact: Contact) -> bool:
        if self.bsuid is not None and contact.bsuid == self.bsuid:
            return True
        return self.whatsapp_id is not None and contact.whatsapp_id in whatsapp_id_spellings(self.whatsapp_id)


def survivor_of(contacts: Iterable[Contact]) -> Contact:
    """The contact the others merge into: the oldest (it has the history), then the smallest id."""
    return min(contacts, key=lambda c: (c.created_at, c.id))


async def merge_all(uow: UnitOfWork, survivor: Contact, others: Iterable[Contact], now: datetime) -> list[UUID]:
    """Merge ``others`` into ``survivor`` (one at a time, each fully moved); their ids."""
    merged = []
    for other in others:
        if other.id == survivor.id:
            continue
        survivor.absorb(other, now)
        await uow.contacts.merge_into(other.id, survivor, now)
        merged.append(other.id)
        log.info("contact.merged", source_id=str(other.id), target_id=str(survivor.id))
    return merged


class ContactResolver:
    async def resolve(self, uow: UnitOfWork, organization_id: UUID, senders: dict[Sender, str | None],
                      now: datetime) -> dict[Sender, Contact]:
        """The contact of each sender (``senders``: sender -> WhatsApp profile name), added when new, merged
        when several match, named after the profile when it has no name yet."""
        if not senders:
            return {}
        ordered = sorted(senders, key=lambda s: s.key)
        numbers = sorted({n for s in ordered if s.whatsapp_id for n in whatsapp_id_spellings(s.whatsapp_id)})
        bsuids = sorted({s.bsuid for s in ordered if s.bsuid})
        found = await uow.contacts.find_by_identities(numbers, bsuids)
        missing: list[Sender] = []
        for sender in ordered:  # one new contact per person, even when the batch spells them two ways
            if not any(sender.matches(c) for c in found) and not any(sender.same_as(m) for m in missing):
                missing.append(sender)
        if missing:
            await uow.contacts.add_new([
                Contact(id=uuid4(), organization_id=organization_id, whatsapp_id=s.whatsapp_id, bsuid=s.bsuid,
                        name=(senders[s] or "")[:255] or None, created_at=now, updated_at=now) for s in missing])
            found = await uow.contacts.find_by_identities(numbers, bsuids)
        gone: dict[UUID, Contact] = {}  # merged away -> the contact that absorbed it
        resolved: dict[Sender, Contact] = {}
        names: dict[UUID, str] = {}
        for sender in ordered:
            matching = list({(c := _followed(found_one, gone)).id: c for found_one in found
                             if sender.matches(found_one)}.values())
            if not matching:  # added by another transaction that then rolled back: apply the batch again
                raise TransactionConflict("A sender's contact vanished while the batch was applied.")
            contact = survivor_of(matching)
            gone.update(dict.fromkeys(await merge_all(uow, contact, matching, now), contact))
            if await self._learn(uow, contact, sender, now):
                log.info("contact.identity_learned", contact_id=str(contact.id), has_phone=bool(contact.whatsapp_id),
                         has_bsuid=bool(contact.bsuid))
            name = (senders[sender] or "")[:255] or None
            if name and not contact.name:
                names[contact.id] = contact.name = name
            resolved[sender] = contact
        if names:
            await uow.contacts.fill_missing_names(names, now)
        # an earlier sender's contact may have been merged into a later one's
        return {sender: _followed(contact, gone) for sender, contact in resolved.items()}

    @staticmethod
    async def _learn(uow: UnitOfWork, contact: Contact, sender: Sender, now: datetime) -> bool:
        """Store the sender's BSUID, and its number unless the contact has it (or its ninth-digit spelling)."""
        changed = False
        if sender.whatsapp_id is not None and contact.whatsapp_id not in whatsapp_id_spellings(sender.whatsapp_id):
            contact.whatsapp_id, changed = sender.whatsapp_id, True
        if sender.bsuid is not None and contact.bsuid != sender.bsuid:
            contact.bsuid, changed = sender.bsuid, True
        if changed:
            contact.updated_at = now
            await uow.contacts.update(contact)
        return changed


def _followed(contact: Contact, gone: dict[UUID, Contact]) -> Contact:
    """The contact that absorbed ``contact`` (itself when it was not merged away)."""
    while contact.id in gone:
        contact = gone[contact.id]
    return contact


def senders_of(identities: Sequence[tuple[Sender, str | None]]) -> dict[Sender, str | None]:
    """Sender -> the first profile name seen for it."""
    names: dict[Sender, str | None] = {}
    for sender, name in identities:
        names[sender] = names.get(sender) or name
    return names
