"""Run a failed contact import again; it resumes after its last committed batch."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.common import enqueue_import
from domain.contact_imports import (
    ContactImport,
    ContactImportNotFound,
)


class RetryContactImport:
    """A failed import is queued again; it resumes after its last committed batch (409 unless it failed)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, import_id: UUID) -> ContactImport:
        actor.require(Permission.WRITE_CONTACTS)
        async with self._uow(actor.organization_id) as uow:
            found = await uow.contact_imports.get(import_id, for_update=True)
            if found is None:
                raise ContactImportNotFound()
            found.requeue(self._clock.now())
            await uow.contact_imports.update(found)
            await enqueue_import(uow, found)
            await uow.commit()
        return found
