"""Stream the media of an inbound message: tenancy (the message must be the organization's), the READ
permission (viewers included), then a synchronous read from the Graph API (or the disk copy) outside the
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog

from application.authorization import Actor, Permission
from application.ports.channel import SecretResolver
from application.ports.media import MediaFile, MediaStore, MediaTokenRejected
from application.ports.uow import UnitOfWorkFactory
from domain.channel import MessageNotFound
from domain.errors import Conflict
from domain.messaging import MEDIA_TYPES, InboundMessageType, MessageDirection

log = structlog.get_logger("pytake.media")

_MEDIA_KINDS = frozenset(kind.value for kind in MEDIA_TYPES)


class MessageHasNoMedia(Conflict):
    code = "message_has_no_media"
    default_message = "This message has no inbound media (or the contact deleted it)."


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMedia:
    file: MediaFile
    filename: str | None
    kind: str


class GetInboundMedia:
    def __init__(self, *, uow: UnitOfWorkFactory, secrets: SecretResolver, media: MediaStore,
                 max_bytes: int) -> None:
        self._uow, self._secrets, self._media, self._max_bytes = uow, secrets, media, max_bytes

    async def execute(self, actor: Actor, message_id: UUID) -> InboundMedia:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            message = await uow.messages.get(message_id)
            if message is None:
                raise MessageNotFound()
            media_id = message.content.get("media_id")
            if message.direction is not MessageDirection.INBOUND or message.type not in _MEDIA_KINDS \
                    or not isinstance(media_id, str) or message.deleted_at is not None:
                raise MessageHasNoMedia()
            number = await uow.numbers.get(message.number_id)
            if number is None:
                raise MessageNotFound()
        token = await self._secrets.resolve(actor.organization_id, number.access_token_secret_id)
        try:
            found = await self._media.fetch(media_id=media_id, phone_number_id=number.phone_number_id,
                                            access_token=token, max_bytes=self._max_bytes)
        except MediaTokenRejected:
            await self._secrets.report_failure(actor.organization_id, number.access_token_secret_id)
            raise
        details = message.content.get("media")
        filename = details.get("filename") if isinstance(details, dict) else None
        log.info("media.served", message_id=str(message_id), size=found.size, cached=not found.temporary)
        return InboundMedia(file=found, filename=filename if isinstance(filename, str) else None,
                            kind=InboundMessageType(message.type).value)
