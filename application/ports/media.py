"""Inbound media: the bytes of a medium a contact sent, fetched from the Graph API with the receiving number's
token (``GET /{media_id}`` gives a short-lived URL, fetched with the same token), checked against Meta's sha256
and size, and kept on disk (as a cached copy, or a temporary file the caller releases once sent)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol

from domain.errors import NotFound, TooLarge, Unavailable


class MediaGone(NotFound):
    code = "media_not_found"
    default_message = "WhatsApp no longer has this media (inbound media is kept for about 30 days)."


class MediaTooLarge(TooLarge):
    code = "media_too_large"
    default_message = "The media is larger than this server serves (MEDIA_MAX_BYTES)."


class MediaUnavailable(Unavailable):
    code = "media_unavailable"
    default_message = "The media could not be fetched from WhatsApp right now; try again later."


class MediaCorrupted(Unavailable):
    code = "media_integrity_error"
    default_message = "The media downloaded from WhatsApp does not match its checksum; try again later."


class MediaTokenRejected(Unavailable):
    code = "media_token_rejected"
    default_message = "WhatsApp rejected the number's access token; update the token in the vault."


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaFile:
    """A verified medium on disk. ``temporary``: not a cached copy, so the caller releases it once sent."""

    path: str
    mime_type: str
    size: int
    temporary: bool


class MediaStore(Protocol):
    @abstractmethod
    async def fetch(self, *, media_id: str, phone_number_id: str, access_token: str, max_bytes: int) -> MediaFile:
        """The medium from the cache or the Graph API. Raises MediaGone, MediaTooLarge, MediaUnavailable,
        MediaCorrupted or MediaTokenRejected; never puts the token or the download URL in an error."""

    @abstractmethod
    def release(self, media: MediaFile) -> None:
        """Remove a temporary file (a cached copy stays)."""
