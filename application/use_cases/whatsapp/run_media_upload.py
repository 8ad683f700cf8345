"""Worker: upload a stored file to Meta with the Graph API."""

from __future__ import annotations

from uuid import UUID

from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import GraphApiError, GraphAuthError, WhatsAppGateway
from application.use_cases.whatsapp.common import _finish
from domain.media import MediaStatus


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
