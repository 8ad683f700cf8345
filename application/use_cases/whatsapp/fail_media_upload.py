"""Worker: the upload job failed for good; the upload is ``failed`` with the reason."""

from __future__ import annotations

from uuid import UUID

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.common import _finish
from domain.media import MediaStatus


class FailMediaUpload:
    """The upload job failed for good: the upload is ``failed`` with the reason (upload the file again)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, upload_id: UUID, reason: str) -> None:
        async with self._uow(organization_id) as uow:
            upload = await uow.media.get(upload_id)
        if upload is not None and upload.status is MediaStatus.QUEUED:
            await _finish(self._uow, upload, None, reason, self._clock)
