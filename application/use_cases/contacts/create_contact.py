"""Create a contact in the actor's organization (the number normalized to E.164 digits, unique per organization)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.common import _check_attributes, _clean_email, _clean_name
from domain.contacts import Contact, normalize_tags, normalize_whatsapp_id


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateContactCommand:
    whatsapp_id: str
    name: str | None = None
    email: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    opted_out: bool = False


class CreateContact:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: CreateContactCommand) -> Contact:
        actor.require(Permission.WRITE_CONTACTS)
        now = self._clock.now()
        contact = Contact(id=uuid4(), organization_id=actor.organization_id,
                          whatsapp_id=normalize_whatsapp_id(cmd.whatsapp_id), name=_clean_name(cmd.name),
                          email=_clean_email(cmd.email), tags=normalize_tags(cmd.tags),
                          attributes=_check_attributes(cmd.attributes), created_at=now, updated_at=now)
        contact.set_opt_out(cmd.opted_out, now)
        async with self._uow(actor.organization_id) as uow:
            await uow.contacts.add(contact)
            await uow.commit()
        return contact
