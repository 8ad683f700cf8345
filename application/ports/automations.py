"""Ports of flow automations: the automation store with its frozen audience, and starting a flow."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.automations import Automation, Recipient, RecipientState


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomationCounts:
    total: int = 0
    pending: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    replied: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    dispatched: int = 0
    accepted: int = 0
    """Opening messages WhatsApp accepted (sent, whatever happened next)."""
    last_accepted_at: datetime | None = None


class AutomationRepository(Protocol):
    """Organization-scoped."""

    @abstractmethod
    async def add(self, automation: Automation) -> None: ...

    @abstractmethod
    async def get(self, automation_id: UUID, *, for_update: bool = False) -> Automation | None: ...

    @abstractmethod
    async def update(self, automation: Automation) -> None: ...

    @abstractmethod
    async def count_unfinished_for_flow(self, flow_id: UUID) -> int:
        """Automations of the flow that are scheduled, running or paused."""

    @abstractmethod
    async def add_recipients(self, recipients: Sequence[Recipient]) -> None:
        """Bulk insert of the frozen audience."""

    @abstractmethod
    async def next_pending(self, automation_id: UUID, limit: int) -> list[Recipient]:
        """Undispatched pending recipients in order, locked (SKIP LOCKED) until the transaction ends."""

    @abstractmethod
    async def update_recipient(self, recipient: Recipient) -> None: ...

    @abstractmethod
    async def recipient_by_message(self, message_id: UUID) -> Recipient | None:
        """The recipient whose opening message this is, locked."""

    @abstractmethod
    async def recipients_by_messages(self, message_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        """The recipients whose opening message is among ``message_ids``, by message id, locked in id order."""

    @abstractmethod
    async def update_recipients(self, recipients: Sequence[Recipient]) -> None: ...

    @abstractmethod
    async def pending_count(self, automation_id: UUID) -> int:
        """Recipients whose opening message is not final yet (state ``pending``)."""

    @abstractmethod
    async def recipients_of_contacts(self, contact_ids: Sequence[UUID], states: Sequence[RecipientState]
                                     ) -> dict[UUID, list[Recipient]]:
        """:meth:`recipients_of_contact` for many contacts (one statement), by contact id, locked in id order."""

    @abstractmethod
    async def recipients_of_contact(self, contact_id: UUID, states: Sequence[RecipientState]) -> list[Recipient]:
        """The contact's recipients in those states, in unfinished or completed automations, locked."""

    @abstractmethod
    async def list_recipients(self, automation_id: UUID, *, state: RecipientState | None, limit: int,
                              offset: int) -> tuple[list[Recipient], int]:
        """Ordered by seq; the state shown is the execution's when the flow completed or failed."""

    @abstractmethod
    async def counts(self, automation_id: UUID) -> AutomationCounts:
        """Aggregated in SQL."""

    @abstractmethod
    async def list(self, *, limit: int, offset: int) -> tuple[list[Automation], int]: ...
