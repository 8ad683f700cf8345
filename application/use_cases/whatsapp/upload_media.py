"""Media uploads to Meta and read receipts: the request stores the work and queues a job (202); the worker calls
the Graph API. Nothing leaves the process inside a request.

An upload runs at least once: a worker that dies after Meta answered uploads the file again on the retry, which
only costs Meta a second copy (the first media id is simply never used).
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

import structlog

from application.authorization import Actor, Permission
from application.jobs import MarkRead, UploadMedia, enqueue
from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import GraphApiError, GraphAuthError, WhatsAppGateway
from domain.channel import RECEIVED, MessageNotFound, WhatsAppNumberNotFound
from domain.errors import InvalidValue, RuleViolation
from domain.media import MediaStatus, MediaUpload, MediaUploadNotFound, check_media

log = structlog.get_logger("pytake.media")


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


class RunMediaUpload:
    """Worker: upload the stored file. Meta refusing the file (type, size, credentials) fails the upload with
    Meta's code; trouble that passes (rate limits, outages) is retried by the queue."""

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver,
                 clock: Clock) -> None:
        self._uow, self._gateway, self._secrets, self._clock = uow, gateway, secrets, clock

    async def execute(self, organization_id: UUID, upload_id: UUID) -> MediaStatus | None:
        async with self._uow(organization_id) as uow:
            upload = await uow.media.get(upload_id)
            if upload is None or upload.status is not MediaStatus.QUEUED:
                return None
            content = await uow.media.content(upload_id)
            number = await uow.numbers.get(upload.number_id)
        if number is None or content is None:
            return await _finish(self._uow, upload, None, "The number or the file is gone.", self._clock)
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        try:
            media_id = await self._gateway.upload_media(number.phone_number_id, token, content, upload.mime_type,
                                                        upload.filename)
        except GraphApiError as error:
            if error.retryable:
                raise
            if isinstance(error, GraphAuthError):
                await self._secrets.report_failure(organization_id, number.access_token_secret_id)
            return await _finish(self._uow, upload, error.graph_code, error.title or error.message, self._clock)
        upload.uploaded(media_id, self._clock.now())
        async with self._uow(organization_id) as uow:
            await uow.media.save(upload)
            await uow.commit()
        return upload.status


class FailMediaUpload:
    """The upload job failed for good: the upload is ``failed`` with the reason (upload the file again)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, upload_id: UUID, reason: str) -> None:
        async with self._uow(organization_id) as uow:
            upload = await uow.media.get(upload_id)
        if upload is not None and upload.status is MediaStatus.QUEUED:
            await _finish(self._uow, upload, None, reason, self._clock)


async def _finish(uow_factory: UnitOfWorkFactory, upload: MediaUpload, code: int | None, reason: str,
                  clock: Clock) -> MediaStatus:
    upload.failed(code, reason, clock.now())
    async with uow_factory(upload.organization_id) as uow:
        await uow.media.save(upload)
        await uow.commit()
    log.info("media.upload_failed", upload_id=str(upload.id), graph_code=code)
    return upload.status


class NotAnInboundMessage(RuleViolation):
    code = "not_an_inbound_message"
    default_message = "Only a message the contact sent can be marked as read."


class MarkMessageRead:
    """Queue the read receipt of an inbound message (and the typing indicator when a reply is coming)."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, message_id: UUID, *, typing: bool) -> None:
        actor.require(Permission.SEND_MESSAGES)
        async with self._uow(actor.organization_id) as uow:
            message = await uow.messages.get(message_id)
            if message is None:
                raise MessageNotFound()
            if message.status != RECEIVED or not message.wamid:
                raise NotAnInboundMessage()
            await enqueue(uow, MarkRead(organization_id=actor.organization_id, message_id=message_id,
                                        typing=typing))
            await uow.commit()


class RunMarkRead:
    """Worker: send the read receipt (with the typing indicator when asked)."""

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver) -> None:
        self._uow, self._gateway, self._secrets = uow, gateway, secrets

    async def execute(self, organization_id: UUID, message_id: UUID, typing: bool) -> bool:
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id)
            number = await uow.numbers.get(message.number_id) if message is not None else None
        if message is None or number is None or not message.wamid:
            return False
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        await self._gateway.mark_read(number.phone_number_id, token, message.wamid, typing=typing)
        return True
