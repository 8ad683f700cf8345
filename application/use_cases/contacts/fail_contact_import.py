"""Worker: an import whose job gave up (retries exhausted) is marked failed."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory


class FailContactImport:
    """An import whose job gave up (retries exhausted) is marked failed; it can be run again."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, import_id: UUID, *, code: str, reason: str) -> None:
        async with self._uow(organization_id) as uow:
            found = await uow.contact_imports.get(import_id, for_update=True)
            if found is None or found.finished:
                return
            found.fail(code, reason, self._clock.now())
            await uow.contact_imports.update(found)
            await uow.commit()
