"""Ports of the WhatsApp channel: numbers, conversations, messages, webhook events, pacing, credentials."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from application.ports.conversations import ConversationFilter, ConversationSummary, MessageCursor
from application.ports.templates import TemplateChange
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
    seq: int = 0
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxItem:
    """One signed webhook delivery as the route received it. ``sender_keys`` name who it is about (the
    senders of its messages): the worker never applies two webhooks about one sender at the same time."""

    id: UUID
    body: bytes = field(repr=False)
    body_sha256: str
    received_at: datetime
    sender_keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookOutcome:
    """What processing one stored webhook came to: counts by outcome, and the error of what failed."""

    webhook_id: UUID
    summary: dict[str, int]
    error: str | None = None


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

    @abstractmethod
    async def syncable_any_org(self) -> Sequence[WhatsAppNumber]:
        """System scope: active numbers with a WABA id (whose templates the periodic sync reads), by organization
        and WABA."""

    @abstractmethod
    async def routable_by_waba_ids(self, waba_ids: Sequence[str]) -> dict[str, Sequence[WhatsAppNumber]]:
        """System scope: the active numbers of these WhatsApp Business Accounts, by WABA id (account-level
        webhooks name only the WABA)."""

    @abstractmethod
    async def routable_by_phone_number_ids(self, phone_number_ids: Sequence[str]) -> dict[str, WhatsAppNumber]:
        """System scope: the numbers inbound webhooks are routed to, by ``phone_number_id``."""

    @abstractmethod
    async def save_send_pause(self, number: WhatsAppNumber) -> None:
        """Write the number's circuit breaker (the ``send_pause*`` fields) and nothing else."""

    @abstractmethod
    async def clear_token_pauses(self, secret_id: UUID) -> Sequence[WhatsAppNumber]:
        """Close the breakers opened by an invalid token on the numbers that use this secret (its value just
        changed); the numbers whose breaker closed."""


class ConversationRepository(Protocol):
    """Organization-scoped. State changes go through ``application.messaging.conversations`` only."""

    @abstractmethod
    async def get(self, number_id: UUID, contact_id: UUID) -> Conversation | None: ...

    @abstractmethod
    async def get_by_id(self, conversation_id: UUID, *, for_update: bool = False) -> Conversation | None: ...

    @abstractmethod
    async def of_contact(self, contact_id: UUID, *, for_update: bool = False) -> list[Conversation]:
        """The contact's conversations (one per number), locked in id order when ``for_update``."""

    @abstractmethod
    async def list(self, where: ConversationFilter, *, limit: int, offset: int
                   ) -> tuple[list[ConversationSummary], int]:
        """Newest activity (``last_message_at``) first, never-active ones last; ties by id."""

    @abstractmethod
    async def summary(self, conversation_id: UUID) -> ConversationSummary | None: ...

    @abstractmethod
    async def get_or_create_locked(self, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
        """The conversation, created when missing, locked until the transaction ends."""

    @abstractmethod
    async def update(self, conversation: Conversation) -> None: ...

    @abstractmethod
    async def record_inbound_many(self, inbound: Sequence[tuple[UUID, UUID, datetime, int]], now: datetime
                                  ) -> dict[tuple[UUID, UUID], Conversation]:
        """For each ``(number_id, contact_id, at, count)``: the conversation, created when missing, with
        ``domain.conversations.receive`` applied (last inbound and last message times moved forward to ``at``,
        never back; ``count`` more unread; ``closed`` becomes ``bot``), locked until the transaction ends.
        Keyed by ``(number_id, contact_id)``."""

    @abstractmethod
    async def open_windows(self, number_id: UUID, contact_ids: Sequence[UUID], now: datetime) -> set[UUID]:
        """The contacts among ``contact_ids`` whose 24-hour window with the number is open at ``now``."""


class MessageRepository(Protocol):
    @abstractmethod
    async def add(self, message: Message) -> None: ...

    @abstractmethod
    async def add_many(self, messages: Sequence[Message]) -> None:
        """Stores the messages in this order (the outbox sends one recipient's messages in the order stored)."""

    @abstractmethod
    async def add_inbound_if_new(self, message: Message) -> bool:
        """Stores an inbound message unless its wamid is known; False for a duplicate."""

    @abstractmethod
    async def add_inbound_many(self, messages: Sequence[Message]) -> set[UUID]:
        """Stores the inbound messages whose wamid is not known yet; returns the ids of those stored."""

    @abstractmethod
    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None: ...

    @abstractmethod
    async def get_by_wamid(self, wamid: str, *, for_update: bool = False) -> Message | None: ...

    @abstractmethod
    async def get_many(self, message_ids: Sequence[UUID], *, for_update: bool = False) -> dict[UUID, Message]:
        """Locked in id order when ``for_update`` (every bulk lock takes rows in the same order)."""

    @abstractmethod
    async def get_many_by_wamids(self, wamids: Sequence[str], *, for_update: bool = False) -> dict[str, Message]:
        """By wamid; locked in id order when ``for_update``."""

    @abstractmethod
    async def update(self, message: Message) -> None: ...

    @abstractmethod
    async def update_many(self, messages: Sequence[Message]) -> None:
        """Writes back the delivery state of each message: status and its times, error, wamid, claim, next
        attempt, confirmation (one statement for all)."""

    @abstractmethod
    async def update_contents(self, messages: Sequence[Message]) -> None:
        """Write back ``content``, ``deleted_at`` and ``updated_at`` of these messages (one statement)."""

    @abstractmethod
    async def record_status_event(self, message: Message, event: StatusEvent) -> bool:
        """Appends to the status history once per (message, status); False when already recorded."""

    @abstractmethod
    async def record_status_events(self, events: Sequence[tuple[Message, StatusEvent]]) -> set[tuple[UUID, str]]:
        """Bulk :meth:`record_status_event`; returns the (message id, status) pairs that were new."""

    @abstractmethod
    async def status_history(self, message_id: UUID) -> list[StatusEvent]: ...

    @abstractmethod
    async def first_outbound_since(self, contact_id: UUID, number_id: UUID, since: datetime) -> Message | None:
        """The oldest outbound message to the contact from the number created at or after ``since``."""

    @abstractmethod
    async def list_for_contact(self, contact_id: UUID, *, limit: int, offset: int) -> tuple[list[Message], int]:
        """Newest first."""

    @abstractmethod
    async def thread(self, number_id: UUID, contact_id: UUID, *, before: MessageCursor | None,
                     limit: int) -> list[Message]:
        """The messages between the number and the contact, newest first (occurred_at, then id), those strictly
        older than ``before`` when given."""


class WebhookInbox(Protocol):
    """Where the webhook route stores a delivery. When ``add`` returns, the delivery is durable."""

    @abstractmethod
    async def add(self, item: InboxItem) -> bool:
        """False when the identical body was already stored (a redelivery). Raises DatabaseUnavailable."""


class WebhookEventStore(Protocol):
    """Stored webhook deliveries: the worker's queue (system scope)."""

    @abstractmethod
    async def get(self, event_id: UUID, *, for_update: bool = False) -> StoredWebhook | None: ...

    @abstractmethod
    async def claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[StoredWebhook]:
        """Lease up to ``limit`` pending deliveries in arrival order (also those whose lease ran out), never
        one that names a sender a leased delivery names, nor one arriving after a delivery about the same
        sender that is left out; plus every other pending delivery about the chosen deliveries' senders (a
        sender's messages are applied together, in Meta's order). Claims are taken one at a time across
        workers."""

    @abstractmethod
    async def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None: ...

    @abstractmethod
    async def release(self, event_ids: Sequence[UUID]) -> None:
        """Give leased deliveries back (they are claimed again at once)."""

    @abstractmethod
    async def mark_processed(self, outcomes: Sequence[WebhookOutcome], now: datetime) -> None: ...

    @abstractmethod
    async def mark_dead(self, outcome: WebhookOutcome, now: datetime) -> None:
        """Nothing of the delivery could be applied: kept for operators, never claimed again."""


class WebhookDecoder(Protocol):
    @abstractmethod
    def verify_signature(self, raw_body: bytes, header: str | None) -> bool:
        """Constant-time HMAC-SHA256 check of Meta's X-Hub-Signature-256 over the raw bytes."""

    @abstractmethod
    def parse(self, raw_body: bytes, received_at: datetime) -> list[WebhookEvent]:
        """Never raises; unknown or malformed parts are skipped or reported as unsupported."""

    @abstractmethod
    def template_changes(self, raw_body: bytes) -> list[TemplateChange]:
        """What the template fields of the delivery (status, quality, category) say; never raises."""

    @abstractmethod
    def sender_keys(self, raw_body: bytes) -> tuple[str, ...]:
        """Who the delivery is about: one key per sender of its messages (none for statuses). Never raises."""


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
    async def resolve(self, organization_id: UUID, secret_id: UUID, *, count: bool = True) -> str:
        """Raises SecretNotFound / SecretInactive. ``count=False``: the caller counts its uses itself
        (:meth:`count_uses`), e.g. one per message sent with the value."""

    @abstractmethod
    async def report_failure(self, organization_id: UUID, secret_id: UUID) -> None:
        """The provider rejected the credential (e.g. Graph error 190)."""

    @abstractmethod
    async def count_uses(self, organization_id: UUID, secret_id: UUID, *, successes: int, failures: int) -> None:
        """Uses of a value resolved with ``count=False``, counted together (failures: the provider rejected
        the credential)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxClaim:
    """Messages claimed for sending (committed before any call), each with its recipient's WhatsApp id
    (None when the contact was deleted meanwhile).

    ``wait_seconds``: the number's budget for this second is spent; come back then. ``more_due``: other
    messages are due now but wait their turn (their recipient has a message in flight, or a media message
    not yet confirmed)."""

    messages: list[tuple[Message, str | None]]
    wait_seconds: float = 0.0
    more_due: bool = False


class Outbox(Protocol):
    """Queued outbound messages as the sender's queue."""

    @abstractmethod
    async def claim(self, number_id: UUID, *, per_second: int, limit: int, now: datetime,
                    hold_after_media: timedelta) -> OutboxClaim:
        """In one transaction: take what is left of the number's budget for the current second (shared by
        every worker; at most ``per_second`` sends a second, spread evenly over it), and claim up to that
        many due messages, oldest first, at most one per recipient: a recipient's oldest queued message, and
        only when no message to it is in flight and no media message to it was sent less than
        ``hold_after_media`` ago without a status webhook since. Claimed messages get ``send_claimed_at``
        and one more attempt."""

    @abstractmethod
    async def has_due(self, number_id: UUID, now: datetime) -> bool:
        """Whether the number has queued messages due now that nobody is sending."""

    @abstractmethod
    async def queued(self, number_id: UUID, limit: int) -> list[Message]:
        """Queued messages of the number that nobody is sending, locked (e.g. to fail them all)."""

    @abstractmethod
    async def due_numbers(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """System scope: ``(organization_id, number_id)`` of numbers with messages due now."""

    @abstractmethod
    async def unconfirmed(self, claimed_before: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        """System scope: ``(organization_id, message_id)`` of sends claimed before ``claimed_before`` whose
        outcome never became known (still queued, no wamid)."""
