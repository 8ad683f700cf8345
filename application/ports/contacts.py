"""Port of the contact store."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.contact_imports import BatchCounts, ContactRow, ImportMode
from domain.contacts import Contact


class ContactRepository(Protocol):
    """Scoped to the unit of work's organization."""

    @abstractmethod
    async def add(self, contact: Contact) -> None:
        """Raises ContactAlreadyExists on a duplicate whatsapp_id in the organization."""

    @abstractmethod
    async def get_or_add(self, contact: Contact) -> Contact:
        """The organization's contact with ``contact.whatsapp_id``, adding ``contact`` when there is none; safe
        when two transactions race to add the same number (the loser gets the winner's row)."""

    @abstractmethod
    async def get_or_add_many(self, contacts: Sequence[Contact]) -> dict[str, Contact]:
        """:meth:`get_or_add` for many numbers at once (one statement each way), keyed by whatsapp_id."""

    @abstractmethod
    async def find_by_identities(self, whatsapp_ids: Sequence[str], bsuids: Sequence[str]) -> list[Contact]:
        """The contacts whose number is one of ``whatsapp_ids`` or whose BSUID is one of ``bsuids`` (one
        statement), locked for update in id order."""

    @abstractmethod
    async def add_new(self, contacts: Sequence[Contact]) -> None:
        """Bulk insert; a contact whose number or BSUID another one already has is not added."""

    @abstractmethod
    async def merge_into(self, source_id: UUID, target: Contact, now: datetime) -> None:
        """Move everything of contact ``source_id`` (messages, conversations, flow executions, automation
        recipients) to ``target``, delete the source, then store ``target`` (which already absorbed the source's
        fields: :meth:`Contact.absorb`). Duplicated rows are folded, never lost (see the adapter)."""

    @abstractmethod
    async def adopt_whatsapp_ids(self, changes: Mapping[UUID, tuple[str, str]], now: datetime) -> None:
        """contact id -> (number, Meta's canonical id for it): each contact still having that number takes the
        canonical id, unless another contact already has it (the next inbound message merges the two)."""

    @abstractmethod
    async def adopt_bsuids(self, bsuids: Mapping[UUID, str], now: datetime) -> None:
        """contact id -> BSUID: each contact without a BSUID takes it, unless another contact has it."""

    @abstractmethod
    async def fill_missing_names(self, names: Mapping[UUID, str], now: datetime) -> None:
        """Give each contact its name unless it already has one (a WhatsApp profile name, say)."""

    @abstractmethod
    async def get(self, contact_id: UUID) -> Contact | None: ...

    @abstractmethod
    async def get_by_whatsapp_id(self, whatsapp_id: str) -> Contact | None: ...

    @abstractmethod
    async def get_many(self, contact_ids: Sequence[UUID]) -> dict[UUID, Contact]:
        """The organization's contacts among ``contact_ids`` (unknown ids are absent)."""

    @abstractmethod
    async def get_many_by_whatsapp_ids(self, whatsapp_ids: Sequence[str]) -> dict[str, Contact]: ...

    @abstractmethod
    async def add_many(self, contacts: Sequence[Contact]) -> None:
        """Bulk insert; whatsapp ids that already exist are left as they are."""

    @abstractmethod
    async def update(self, contact: Contact) -> None:
        """Raises ContactAlreadyExists when the new whatsapp_id is taken."""

    @abstractmethod
    async def delete(self, contact_id: UUID) -> bool: ...

    @abstractmethod
    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Contact], int]:
        """Case-insensitive substring match on name, email or whatsapp_id; newest first."""

    @abstractmethod
    async def page(self, *, query: str | None, tag: str | None, before: tuple[datetime, UUID] | None,
                   limit: int) -> list[Contact]:
        """Contacts matching ``query`` (as :meth:`search`) and having ``tag`` (case-insensitive), newest first
        (``created_at``, then ``id``, descending), strictly after the ``before`` cursor: keyset pages."""

    @abstractmethod
    async def import_rows(self, rows: Sequence[ContactRow], *, mode: ImportMode, now: datetime) -> BatchCounts:
        """One set-based write of rows with distinct whatsapp ids. Unknown numbers are created. A known number is
        unchanged in ``create_only`` mode; in ``upsert`` mode it takes the row's values that are not None
        (attributes merged key by key) and counts as updated only when that changed something.
        Raises TransactionConflict when another transaction created one of the numbers meanwhile."""


class ContactListing(Protocol):
    """The contacts list on the read path: one read-only transaction of its own per page (row-level security
    set for the organization in it), no unit of work."""

    @abstractmethod
    async def search(self, organization_id: UUID, *, query: str | None, limit: int,
                     offset: int) -> tuple[list[Contact], int]:
        """As :meth:`ContactRepository.search`; the total may be an estimate (``Total.estimated``)."""
