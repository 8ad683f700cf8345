"""Request a media upload to Meta: the file is stored and a job queued (202).

An upload runs at least once: a worker that dies after Meta answered uploads the file again on the retry, which
only costs Meta a second copy (the first media id is simply never used)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.jobs import UploadMedia, enqueue
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from domain.channel import WhatsAppNumberNotFound
from domain.errors import InvalidValue
from domain.media import MediaUpload, check_media


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaUploadCommand:
    number_id: UUID
    filename: str
    mime_type: str
    content: bytes


class StartMediaUpload:
    """Store the file for the number and queue its upload: ``queued`` until the worker has Meta's media id."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: MediaUploadCommand) -> MediaUpload:
        actor.require(Permission.SEND_MESSAGES)
        mime_type = cmd.mime_type.split(";")[0].strip().lower()
        check_media(mime_type, len(cmd.content))
        filename = cmd.filename.strip().replace("/", "_").replace("\\", "_")[:240]
        if not filename:
            raise InvalidValue("The file needs a name.")
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            number = await uow.numbers.get(cmd.number_id)
            if number is None:
                raise WhatsAppNumberNotFound()
            number.ensure_can_send()
            upload = MediaUpload(id=uuid4(), organization_id=actor.organization_id, number_id=number.id,
                                 filename=filename, mime_type=mime_type, size_bytes=len(cmd.content),
                                 created_by=actor.user_id, created_at=now, updated_at=now)
            await uow.media.add(upload, cmd.content)
            await enqueue(uow, UploadMedia(organization_id=actor.organization_id, upload_id=upload.id),
                          dedupe_key=f"upload_media:{upload.id}")
            await uow.commit()
        return upload
