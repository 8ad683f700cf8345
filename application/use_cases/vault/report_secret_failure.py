"""A caller reports that the value it was served was rejected (counted as a failure in usage)."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory


class ReportSecretFailure:
    """A caller reports that the value it was served was rejected (e.g. Graph error 190): the success
    counted for it becomes a failure. Unknown secrets are ignored (nothing to count against)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, secret_id: UUID) -> None:
        async with self._uow(organization_id) as uow:
            if await uow.secrets.get(secret_id) is None:
                return
            await uow.secret_usage.reclassify_as_failure(secret_id, self._clock.now())
            await uow.commit()
