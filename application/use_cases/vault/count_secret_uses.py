"""Count uses of a value resolved without counting (in usage, not in the audit log)."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory


class CountSecretUses:
    """Uses of a value resolved without counting (the sender resolves its token once per batch and counts
    one use per message sent, failures being the sends that Meta refused for the credential)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, secret_id: UUID, *, successes: int, failures: int) -> None:
        async with self._uow(organization_id) as uow:
            if await uow.secrets.get(secret_id) is None:
                return
            await uow.secret_usage.record_many(secret_id, successes=successes, failures=failures,
                                               now=self._clock.now())
            await uow.commit()
