"""Media files waiting to be uploaded to WhatsApp, and their outcome."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol
from uuid import UUID

from domain.media import MediaUpload


class MediaUploadRepository(Protocol):
    """Scoped to the unit of work's organization."""

    @abstractmethod
    async def add(self, upload: MediaUpload, content: bytes) -> None: ...

    @abstractmethod
    async def get(self, upload_id: UUID) -> MediaUpload | None: ...

    @abstractmethod
    async def content(self, upload_id: UUID) -> bytes | None:
        """The file, while it waits for its upload (dropped once uploaded)."""

    @abstractmethod
    async def save(self, upload: MediaUpload) -> None:
        """Write the outcome; an upload no longer queued drops its content."""
