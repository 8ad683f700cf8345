"""Read a media upload (its status, and Meta's media id once uploaded)."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.media import MediaUpload, MediaUploadNotFound


class GetMediaUpload:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, upload_id: UUID) -> MediaUpload:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            upload = await uow.media.get(upload_id)
        if upload is None:
            raise MediaUploadNotFound()
        return upload
