"""Port of the contact store."""

from __future__ import annotations

from abc import abstractmethod
from typing import Protocol
from uuid import UUID

from domain.contacts import Contact


class ContactRepository(Protocol):
    """Scoped to the unit of work's organization."""

    @abstractmethod
    async def add(self, contact: Contact) -> None:
        """Raises ContactAlreadyExists on a duplicate whatsapp_id in the organization."""

    @abstractmethod
    async def get(self, contact_id: UUID) -> Contact | None: ...

    @abstractmethod
    async def get_by_whatsapp_id(self, whatsapp_id: str) -> Contact | None: ...

    @abstractmethod
    async def update(self, contact: Contact) -> None:
        """Raises ContactAlreadyExists when the new whatsapp_id is taken."""

    @abstractmethod
    async def delete(self, contact_id: UUID) -> bool: ...

    @abstractmethod
    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Contact], int]:
        """Case-insensitive substring match on name, email or whatsapp_id; newest first."""
