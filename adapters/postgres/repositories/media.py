"""Media uploads (the file and its outcome), scoped to one organization."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.tables import whatsapp_media
from application.ports.media_uploads import MediaUploadRepository
from domain.media import MediaStatus, MediaUpload

_FIELDS = [c for c in whatsapp_media.c if c.name != "content"]


def _upload(row: Any) -> MediaUpload:
    data = dict(row._mapping)
    data["status"] = MediaStatus(data["status"])
    return MediaUpload(**data)


class SqlAlchemyMediaUploadRepository(MediaUploadRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None) -> None:
        self._s, self._org = session, organization_id

    def _require(self) -> UUID:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._org

    async def add(self, upload: MediaUpload, content: bytes) -> None:
        values = {c.name: getattr(upload, c.name) for c in _FIELDS}
        values["status"] = upload.status.value
        await self._s.execute(insert(whatsapp_media).values(**values, content=content))

    async def get(self, upload_id: UUID) -> MediaUpload | None:
        row = (await self._s.execute(select(*_FIELDS).where(
            whatsapp_media.c.id == upload_id, whatsapp_media.c.organization_id == self._require()))).first()
        return _upload(row) if row else None

    async def content(self, upload_id: UUID) -> bytes | None:
        value = (await self._s.execute(select(whatsapp_media.c.content).where(
            whatsapp_media.c.id == upload_id, whatsapp_media.c.organization_id == self._require()))).scalar()
        return bytes(value) if value is not None else None

    async def save(self, upload: MediaUpload) -> None:
        values: dict[str, Any] = {"status": upload.status.value, "media_id": upload.media_id,
                                  "error_code": upload.error_code, "error": upload.error,
                                  "updated_at": upload.updated_at, "uploaded_at": upload.uploaded_at}
        if upload.status is not MediaStatus.QUEUED:
            values["content"] = None
        await self._s.execute(update(whatsapp_media).where(
            whatsapp_media.c.id == upload.id, whatsapp_media.c.organization_id == self._require()).values(**values))
