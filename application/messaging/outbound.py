"""The outbound side every sender of messages shares: the sending number, the contact, the queued message.

A message stored ``queued`` is the sender's work item (the outbox is the queue): the worker claims a number's
due messages in batches, paced by the number's throughput, one message per recipient at a time, in the order
they were queued. ``queue_outbound`` wakes the senders when its transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from application.ports.uow import UnitOfWork
from domain.channel import Message, NoActiveNumber, WhatsAppNumber, WhatsAppNumberNotFound
from domain.contacts import Contact, is_bsuid, normalize_bsuid, normalize_whatsapp_id, whatsapp_id_spellings
from domain.messaging import MessageDirection, MessageStatus

OUTBOX_TOPIC = "outbox"
"""What ``queue_outbound`` wakes (payload: ``organization_id:number_id``)."""


async def sending_number(uow: UnitOfWork, number_id: UUID | None) -> WhatsAppNumber:
    """The number to send from: the one named, else the organization's default; it must be able to send."""
    if number_id is not None:
        number = await uow.numbers.get(number_id)
        if number is None:
            raise WhatsAppNumberNotFound()
    else:
        number = await uow.numbers.default_active()
        if number is None:
            raise NoActiveNumber()
    number.ensure_can_send()
    return number


async def contact_for(uow: UnitOfWork, organization_id: UUID, to: str, now: datetime) -> Contact:
    """The organization's contact ``to`` names, created when there is none: a phone number (its Brazilian
    ninth-digit spelling finds the same contact) or a BSUID (``US.1349...``: sent to with ``recipient``).
    Raises InvalidWhatsAppId / InvalidBsuid."""
    if is_bsuid(to):
        bsuid = normalize_bsuid(to)
        found = await uow.contacts.find_by_identities([], [bsuid])
        if not found:
            await uow.contacts.add_new([Contact(id=uuid4(), organization_id=organization_id, whatsapp_id=None,
                                                bsuid=bsuid, created_at=now, updated_at=now)])
            found = await uow.contacts.find_by_identities([], [bsuid])
        return found[0]
    whatsapp_id = normalize_whatsapp_id(to)
    spellings = whatsapp_id_spellings(whatsapp_id)
    known = await uow.contacts.find_by_identities(list(spellings), []) if len(spellings) > 1 else []
    contact = next((c for c in known if c.whatsapp_id == whatsapp_id), known[0] if known else None)
    if contact is None:
        contact = await uow.contacts.get_by_whatsapp_id(whatsapp_id)
    if contact is None:  # two requests for a new number may race here: get_or_add lets both through
        contact = await uow.contacts.get_or_add(Contact(
            id=uuid4(), organization_id=organization_id, whatsapp_id=whatsapp_id, created_at=now, updated_at=now))
    return contact


async def queue_outbound(uow: UnitOfWork, *, number: WhatsAppNumber, contact: Contact, kind: str,
                         content: dict[str, Any], now: datetime, source: str = "api") -> Message:
    """Store a ``queued`` outbound message (the caller commits); the sender picks it up after the commit."""
    [message] = await queue_outbound_many(uow, number=number, items=[(contact, kind, content)], now=now,
                                          source=source)
    return message


async def queue_outbound_many(uow: UnitOfWork, *, number: WhatsAppNumber,
                              items: Sequence[tuple[Contact, str, dict[str, Any]]], now: datetime,
                              source: str) -> list[Message]:
    """:func:`queue_outbound` for many ``(contact, kind, content)`` at once (one statement), in this order."""
    messages = [Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id,
                        contact_id=contact.id, direction=MessageDirection.OUTBOUND, type=kind, content=content,
                        status=MessageStatus.QUEUED.value, source=source, occurred_at=now, created_at=now,
                        updated_at=now) for contact, kind, content in items]
    await uow.messages.add_many(messages)
    await uow.jobs.wake(OUTBOX_TOPIC, f"{number.organization_id}:{number.id}")
    return messages


async def resume_after_token_change(uow: UnitOfWork, secret_id: UUID) -> int:
    """The secret's value changed: close the breakers an invalid token opened on the numbers using it and wake
    their senders (inside the caller's transaction); how many numbers resume."""
    numbers = await uow.numbers.clear_token_pauses(secret_id)
    for number in numbers:
        await uow.jobs.wake(OUTBOX_TOPIC, f"{number.organization_id}:{number.id}")
    return len(numbers)
