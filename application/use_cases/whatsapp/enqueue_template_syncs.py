"""The worker's periodic schedule: queue one template sync per organization and WABA."""

from __future__ import annotations

from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.common import enqueue_template_sync


class EnqueueTemplateSyncs:
    """The worker's periodic schedule: queue one sync per organization and WABA of every active number."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self) -> int:
        async with self._uow() as uow:
            numbers = await uow.numbers.syncable_any_org()
            queued = 0
            for number in numbers:
                queued += await enqueue_template_sync(uow, number)
            await uow.commit()
        return queued
