"""Port of the store of contact imports (the uploaded file and the import's progress)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol
from uuid import UUID

from domain.contact_imports import ContactImport


class ContactImportRepository(Protocol):
    """Scoped to the unit of work's organization."""

    @abstractmethod
    async def add(self, contact_import: ContactImport, content: bytes) -> None:
        """Store the import and its file (kept until the import completes)."""

    @abstractmethod
    async def get(self, import_id: UUID, *, for_update: bool = False) -> ContactImport | None:
        """``for_update`` locks the import until the unit of work ends: one batch at a time."""

    @abstractmethod
    async def content(self, import_id: UUID) -> bytes | None:
        """The uploaded file, or None once the import completed."""

    @abstractmethod
    async def drop_content(self, import_id: UUID) -> None: ...

    @abstractmethod
    async def update(self, contact_import: ContactImport) -> None: ...

    @abstractmethod
    async def list(self, *, limit: int, offset: int) -> tuple[list[ContactImport], int]:
        """Newest first, with the total."""
