"""Worker: the verification job failed for good; a pending number becomes ``inactive``."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.channel import NumberStatus


class GiveUpNumberVerification:
    """The verification job failed for good: a number still ``pending`` becomes ``inactive`` with the reason in
    ``last_error`` (register it again once Meta answers)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, number_id: UUID, reason: str) -> bool:
        async with self._uow(organization_id) as uow:
            number = await uow.numbers.get(number_id)
            if number is None or number.status is not NumberStatus.PENDING:
                return False
            number.status, number.last_error = NumberStatus.INACTIVE, reason[:500]
            number.updated_at = self._clock.now()
            await uow.numbers.update(number)
            await uow.commit()
        return True
