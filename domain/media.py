"""Media uploaded to WhatsApp for one sending number: the file waits in our database until a worker uploads it to
Meta, which answers the media id sends use (``{"image": {"id": ...}}``). Standard library only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import InvalidValue, NotFound, TooLarge

KB, MB = 1024, 1024 * 1024
UPLOAD_LIMIT = 16 * MB
"""Largest file we take (Meta takes documents up to 100 MB; send those by link)."""

SUPPORTED: dict[str, tuple[str, int]] = {
    # Meta's supported media types: the kind they are sent as and Meta's own size limit
    "audio/aac": ("audio", 16 * MB), "audio/amr": ("audio", 16 * MB), "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB), "audio/ogg": ("audio", 16 * MB),
    "text/plain": ("document", 100 * MB), "application/pdf": ("document", 100 * MB),
    "application/vnd.ms-excel": ("document", 100 * MB), "application/msword": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("document", 100 * MB),
    "image/jpeg": ("image", 5 * MB), "image/png": ("image", 5 * MB),
    "image/webp": ("sticker", 500 * KB),
    "video/mp4": ("video", 16 * MB), "video/3gpp": ("video", 16 * MB),
}


class MediaStatus(StrEnum):
    QUEUED = "queued"
    UPLOADED = "uploaded"
    FAILED = "failed"


class MediaUploadNotFound(NotFound):
    code = "media_upload_not_found"
    default_message = "Media upload not found."


class UnsupportedMedia(InvalidValue):
    code = "unsupported_media"
    default_message = "WhatsApp does not take this type of file."


class MediaTooLarge(TooLarge):
    code = "media_too_large"
    default_message = f"The file is larger than WhatsApp (or this server, {UPLOAD_LIMIT // MB} MB) takes."


def check_media(mime_type: str, size: int) -> str:
    """The kind a file of this type is sent as; refuses unsupported types, empty and oversized files."""
    supported = SUPPORTED.get(mime_type.split(";")[0].strip().lower())
    if supported is None:
        raise UnsupportedMedia(f"WhatsApp does not take {mime_type or 'files without a type'}; supported: "
                               f"{', '.join(sorted(SUPPORTED))}.")
    kind, limit = supported
    if size <= 0:
        raise InvalidValue("The file is empty.")
    if size > min(limit, UPLOAD_LIMIT):
        raise MediaTooLarge(f"A {kind} of this type is at most {min(limit, UPLOAD_LIMIT) // KB} KiB.")
    return kind


@dataclass(slots=True, kw_only=True)
class MediaUpload:
    id: UUID
    organization_id: UUID
    number_id: UUID
    filename: str
    mime_type: str
    size_bytes: int
    status: MediaStatus = MediaStatus.QUEUED
    media_id: str | None = None
    error_code: int | None = None
    error: str | None = None
    created_by: UUID | None = None
    created_at: datetime
    updated_at: datetime
    uploaded_at: datetime | None = None

    @property
    def kind(self) -> str:
        return SUPPORTED[self.mime_type][0]

    def uploaded(self, media_id: str, now: datetime) -> None:
        self.status, self.media_id, self.uploaded_at, self.updated_at = MediaStatus.UPLOADED, media_id, now, now

    def failed(self, code: int | None, reason: str, now: datetime) -> None:
        self.status, self.error_code, self.error, self.updated_at = MediaStatus.FAILED, code, reason[:500], now
