"""Helpers of the contact-import use cases: queueing an import's job."""

from __future__ import annotations

from application.jobs import ImportContacts, enqueue
from application.ports.uow import UnitOfWork
from domain.contact_imports import (
    ContactImport,
)


async def enqueue_import(uow: UnitOfWork, contact_import: ContactImport) -> None:
    await enqueue(uow, ImportContacts(organization_id=contact_import.organization_id, import_id=contact_import.id),
                  dedupe_key=f"import:{contact_import.id}")
