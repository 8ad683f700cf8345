"""Update a contact: fields left ``UNSET`` are not changed; ``None`` clears name or email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.common import _UNSET, UNSET, _check_attributes, _clean_email, _clean_name
from domain.contacts import Contact, ContactNotFound, normalize_tags, normalize_whatsapp_id


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateContactCommand:
    """Fields left as ``UNSET`` are not changed; ``None`` clears name or email."""

    contact_id: UUID
    whatsapp_id: Any = _UNSET
    name: Any = _UNSET
    email: Any = _UNSET
    tags: Any = _UNSET
    attributes: Any = _UNSET
    opted_out: Any = _UNSET


class UpdateContact:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: UpdateContactCommand) -> Contact:
        actor.require(Permission.WRITE_CONTACTS)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            contact = await uow.contacts.get(cmd.contact_id)
            if contact is None:
                raise ContactNotFound()
            if cmd.whatsapp_id is not UNSET:
                contact.whatsapp_id = normalize_whatsapp_id(cmd.whatsapp_id)
            if cmd.name is not UNSET:
                contact.name = _clean_name(cmd.name)
            if cmd.email is not UNSET:
                contact.email = _clean_email(cmd.email)
            if cmd.tags is not UNSET:
                contact.tags = normalize_tags(cmd.tags)
            if cmd.attributes is not UNSET:
                contact.attributes = _check_attributes(cmd.attributes)
            if cmd.opted_out is not UNSET:
                contact.set_opt_out(cmd.opted_out, now)
            contact.updated_at = now
            await uow.contacts.update(contact)
            await uow.commit()
        return contact
