"""Ports of the WhatsApp channel: numbers, conversations, messages, webhook events, pacing, credentials."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.channel import Conversation, Message, WhatsAppNumber
from domain.messaging import WebhookEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusEvent:
    status: str
    occurred_at: datetime
    error_code: int | None = None
    error_title: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredWebhook:
    id: UUID
    body: bytes
    status: str
    attempts: int


class WhatsAppNumberRepository(Protocol):
    """Organization-scoped, except the ``*_any_org`` methods (system scope: webhook routing, ownership).

    A number is *proven* once the Graph API check succeeded with its organization's token (status ``active``);
    at most one proven number per phone_number_id exists, and only a proven number receives webhooks. Unproven
    registrations (``pending``, ``inactive``) of one phone_number_id may exist in several organizations."""

    @abstractmethod
    async def add(self, number: WhatsAppNumber) -> None:
        """Raises WhatsAppNumberAlreadyRegistered when the organization already has this phone_number_id, or when
        the number is proven (active) and another organization's proven number has it."""

    @abstractmethod
    async def get(self, number_id: UUID) -> WhatsAppNumber | None: ...

    @abstractmethod
    async def update(self, number: WhatsAppNumber) -> None:
        """Raises WhatsAppNumberAlreadyRegistered when the number becomes proven (active) while another
        organization's proven number has its phone_number_id."""

    @abstractmethod
    async def list(self, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]: ...

    @abstractmethod
    async def default_active(self) -> WhatsAppNumber | None:
        """The organization's first active number (its default sender)."""

    @abstractmethod
    async def get_by_phone_number_id_any_org(self, phone_number_id: str) -> WhatsAppNumber | None:
        """The proven number with this phone_number_id, in any organization; unproven ones are never returned."""

    @abstractmethod
    async def supersede_unproven_any_org(self, phone_number_id: str, *, owner_organization_id: UUID, reason: str,
                                         now: datetime) -> None:
        """Other organizations' unproven registrations of this phone_number_id become ``inactive`` with ``reason``
        (their owner proved it)."""


class ConversationRepository(Protocol):
    @abstractmethod
    async def get(self, number_id: UUID, contact_id: UUID) -> Conversation | None: ...

    @abstractmethod
    async def get_for_update(self, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
        """The conversation, created when missing, locked until the transaction ends."""

    @abstractmethod
    async def update(self, conversation: Conversation) -> None: ...

    @abstractmethod
    async def open_windows(self, number_id: UUID, contact_ids: Sequence[UUID], now: datetime) -> set[UUID]:
        """The contacts among ``contact_ids`` whose 24-hour window with the number is open at ``now``."""


class MessageRepository(Protocol):
    @abstractmethod
    async def add(self, message: Message) -> None: ...

    @abstractmethod
    async def add_inbound_if_new(self, message: Message) -> bool:
        """Stores an inbound message unless its wamid is known; False for a duplicate."""

    @abstractmethod
    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None: ...

    @abstractmethod
    async def get_by_wamid(self, wamid: str, *, for_update: bool = False) -> Message | None: ...

    @abstractmethod
    async def update(self, message: Message) -> None: ...

    @abstractmethod
    async def record_status_event(self, message: Message, event: StatusEvent) -> bool:
        """Appends to the status history once per (message, status); False when already recorded."""

    @abstractmethod
    async def status_history(self, message_id: UUID) -> list[StatusEvent]: ...

    @abstractmethod
    async def first_outbound_since(self, contact_id: UUID, number_id: UUID, since: datetime) -> Message | None:
        """The oldest outbound message to the contact from the number created at or after ``since``."""

    @abstractmethod
    async def list_for_contact(self, contact_id: UUID, *, limit: int, offset: int) -> tuple[list[Message], int]:
        """Newest first."""


class WebhookEventStore(Protocol):
    """Raw webhook deliveries (system scope)."""

    @abstractmethod
    async def add(self, *, event_id: UUID, body: bytes, body_sha256: str, received_at: datetime) -> bool:
        """False when the identical body was already stored (a redelivery)."""

    @abstractmethod
    async def get(self, event_id: UUID, *, for_update: bool = False) -> StoredWebhook | None: ...

    @abstractmethod
    async def mark(self, event_id: UUID, *, status: str, now: datetime, summary: dict[str, int] | None = None,
                   error: str | None = None) -> None: ...

    @abstractmethod
    async def list_stalled(self, *, received_before: datetime, limit: int) -> list[UUID]:
        """Ids of events still ``pending`` that were received before ``received_before``, oldest first."""


class WebhookDecoder(Protocol):
    @abstractmethod
    def verify_signature(self, raw_body: bytes, header: str | None) -> bool:
        """Constant-time HMAC-SHA256 check of Meta's X-Hub-Signature-256 over the raw bytes."""

    @abstractmethod
    def parse(self, raw_body: bytes, received_at: datetime) -> list[WebhookEvent]:
        """Never raises; unknown or malformed parts are skipped or reported as unsupported."""


class SendPacer(Protocol):
    """A per-key pace shared by every worker replica (e.g. a number's messages per second)."""

    @abstractmethod
    async def reserve(self, key: str, rate_per_second: float, count: int = 1) -> float:
        """Reserve the next ``count`` consecutive slots; returns the seconds to wait before the first one
        (0 when due now)."""

    @abstractmethod
    async def admit(self, key: str, per_second: int) -> float:
        """Hard cap: count one send in the current calendar second unless ``per_second`` were already counted;
        returns 0 when admitted, else the seconds until the next second (try again then)."""


class SecretResolver(Protocol):
    """The vault's internal path: values resolved at use time, counted in the secret's usage."""

    @abstractmethod
    async def resolve(self, organization_id: UUID, secret_id: UUID) -> str:
        """Raises SecretNotFound / SecretInactive."""

    @abstractmethod
    async def report_failure(self, organization_id: UUID, secret_id: UUID) -> None:
        """The provider rejected the credential (e.g. Graph error 190)."""
