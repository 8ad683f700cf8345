"""Create, read, search, update and delete the organization's contacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.contacts import ContactListing
from application.ports.uow import UnitOfWorkFactory
from domain.contacts import MAX_ATTRIBUTES, Contact, ContactNotFound, normalize_tags, normalize_whatsapp_id
from domain.errors import InvalidValue
from domain.identity import Email

_UNSET: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateContactCommand:
    whatsapp_id: str
    name: str | None = None
    email: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    opted_out: bool = False


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


UNSET = _UNSET


def _clean_email(email: str | None) -> str | None:
    return Email(email).value if email else None


def _clean_name(name: str | None) -> str | None:
    cleaned = name.strip() if name is not None else None
    return cleaned or None


def _check_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidValue(f"A contact has at most {MAX_ATTRIBUTES} attributes.")
    return attributes


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


class SearchContacts:
    """A read: one read-only transaction of the listing's own (no unit of work)."""

    def __init__(self, *, listing: ContactListing) -> None:
        self._listing = listing

    async def execute(self, actor: Actor, *, query: str | None, limit: int,
                      offset: int) -> tuple[list[Contact], int]:
        actor.require(Permission.READ)
        text = (query or "").strip() or None
        return await self._listing.search(actor.organization_id, query=text, limit=limit, offset=offset)


class GetContact:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, contact_id: UUID) -> Contact:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            contact = await uow.contacts.get(contact_id)
        if contact is None:
            raise ContactNotFound()
        return contact


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


class DeleteContact:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, contact_id: UUID) -> None:
        actor.require(Permission.WRITE_CONTACTS)
        async with self._uow(actor.organization_id) as uow:
            if not await uow.contacts.delete(contact_id):
                raise ContactNotFound()
            await uow.commit()
