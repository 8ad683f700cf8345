"""Helpers shared by the contact use cases: queueing an import's job, and cleaning a contact's fields."""

from __future__ import annotations

from typing import Any

from application.jobs import ImportContacts, enqueue
from application.ports.uow import UnitOfWork
from domain.contact_imports import ContactImport
from domain.contacts import MAX_ATTRIBUTES
from domain.errors import InvalidValue
from domain.identity import Email


async def enqueue_import(uow: UnitOfWork, contact_import: ContactImport) -> None:
    await enqueue(uow, ImportContacts(organization_id=contact_import.organization_id, import_id=contact_import.id),
                  dedupe_key=f"import:{contact_import.id}")


_UNSET: Any = object()


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
