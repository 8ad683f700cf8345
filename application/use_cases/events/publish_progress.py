"""Worker job of live events: an automation's throttled progress."""

from __future__ import annotations

from application.events import automation_progress
from application.jobs import PublishAutomationProgress
from application.ports.uow import UnitOfWorkFactory


class PublishProgress:
    """The job of ``application.events.progress_changed``: one ``automation.progress`` with the committed counts."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, job: PublishAutomationProgress) -> bool:
        async with self._uow(job.organization_id) as uow:
            automation = await uow.automations.get(job.automation_id)
            if automation is None:
                return False
            automation_progress(uow, automation, await uow.automations.counts(job.automation_id))
            await uow.commit()
        return True
