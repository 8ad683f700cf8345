"""In-memory doubles of the WhatsApp channel's ports, for unit tests of its use cases.

A unit of work over one ``ChannelStore`` (contacts, numbers, conversations, messages with their status
history, raw webhook events, the job queue), copy-on-commit like the other fakes: whatever a use case
wrote before raising is gone. The repositories mirror the PostgreSQL adapters' observable semantics:
organization scoping, ``phone_number_id`` unique across organizations, ``wamid`` unique, one status
event per (message, status), one conversation per (number, contact), one raw event per body hash.

Plus a gateway that records every call and answers scripted errors, a pacer and a secret resolver.
"""

from __future__ import annotations

import copy
import itertools
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID, uuid4

from application.authorization import Actor
from application.ports.channel import (
    ConversationRepository,
    InboxItem,
    MessageRepository,
    Outbox,
    OutboxClaim,
    SecretResolver,
    SendPacer,
    StatusEvent,
    StoredWebhook,
    WebhookEventStore,
    WebhookInbox,
    WebhookOutcome,
    WhatsAppNumberRepository,
)
from application.ports.events import EventTicket, StoredEvent
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import (
    GraphApiError,
    ListSection,
    MediaKind,
    PhoneNumberDetails,
    SentMessage,
    WhatsAppGateway,
)
from domain.channel import Conversation, Message, NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from domain.contacts import Contact
from domain.identity import Role
from domain.messaging import CUSTOMER_SERVICE_WINDOW, MessageDirection
from domain.vault import SecretNotFound
from tests.fakes import T0, FakeContactRepository, FakeJobQueue
from tests.fakes_events import FakeEventLog, FakeEventTicketRepository


@dataclass
class WebhookRow:
    id: UUID
    body: bytes
    body_sha256: str
    received_at: datetime
    seq: int = 0
    sender_keys: tuple[str, ...] = ()
    status: str = "pending"
    attempts: int = 0
    lease_until: datetime | None = None
    processed_at: datetime | None = None
    summary: dict[str, int] | None = None
    last_error: str | None = None


@dataclass
class StatusRow:
    organization_id: UUID
    message_id: UUID
    event: StatusEvent


@dataclass
class ChannelStore:
    contacts: dict[UUID, Contact] = field(default_factory=dict)
    numbers: dict[UUID, WhatsAppNumber] = field(default_factory=dict)
    conversations: dict[UUID, Conversation] = field(default_factory=dict)
    messages: dict[UUID, Message] = field(default_factory=dict)
    status_events: list[StatusRow] = field(default_factory=list)
    webhook_events: dict[UUID, WebhookRow] = field(default_factory=dict)
    job_queue: FakeJobQueue = field(default_factory=FakeJobQueue)
    admissions: dict[tuple[str, datetime], int] = field(default_factory=dict)  # (key, second) -> sends
    message_seq: dict[UUID, int] = field(default_factory=dict)  # the order messages were queued in
    events: list[tuple[StoredEvent, datetime | None]] = field(default_factory=list)
    event_seq: int = 0
    event_purged: dict[UUID, int] = field(default_factory=dict)
    event_tickets: dict[str, EventTicket] = field(default_factory=dict)

    @property
    def jobs(self) -> FakeJobQueue:
        return self.job_queue

    def history(self, message_id: UUID) -> list[StatusEvent]:
        return [row.event for row in self.status_events if row.message_id == message_id]


class FakeChannelUnitOfWork(UnitOfWork):
    def __init__(self, factory: FakeChannelUnitOfWorkFactory, organization_id: UUID | None) -> None:
        self._factory, self.organization_id = factory, organization_id
        self._work: ChannelStore | None = None

    @property
    def work(self) -> ChannelStore:
        if self._work is None:
            raise RuntimeError("unit of work used outside its 'async with' block")
        return self._work

    async def __aenter__(self) -> Self:
        if self._work is not None:
            raise RuntimeError("unit of work entered twice")
        self._work = copy.deepcopy(self._factory.store)
        self.contacts = FakeContactRepository(self)  # type: ignore[arg-type]  # duck-typed: needs .work.contacts
        self.numbers = FakeNumberRepository(self)
        self.conversations = FakeConversationRepository(self)
        self.messages = FakeMessageRepository(self)
        self.webhook_events = FakeWebhookEventStore(self)
        self.outbox = FakeOutbox(self)
        self.jobs = self._work.job_queue
        self.events = FakeEventLog(self)
        self.event_tickets = FakeEventTicketRepository(self)
        return self

    async def commit(self) -> None:
        self._factory.store = copy.deepcopy(self.work)
        self._factory.commits += 1

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._work = None


class FakeChannelUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, store: ChannelStore | None = None) -> None:
        self.store = store if store is not None else ChannelStore()
        self.commits = 0

    def __call__(self, organization_id: UUID | None = None) -> FakeChannelUnitOfWork:
        return FakeChannelUnitOfWork(self, organization_id)


class _Repo:
    def __init__(self, uow: FakeChannelUnitOfWork) -> None:
        self._uow = uow

    @property
    def _db(self) -> ChannelStore:
        return self._uow.work

    def _org(self) -> UUID:
        if self._uow.organization_id is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._uow.organization_id


class FakeNumberRepository(_Repo, WhatsAppNumberRepository):
    """Like the table: one phone_number_id per organization, and one proven (active) number per phone_number_id."""

    def _clashes(self, number: WhatsAppNumber) -> bool:
        return any(n.id != number.id and n.phone_number_id == number.phone_number_id and (
            n.organization_id == number.organization_id
            or NumberStatus.ACTIVE is n.status is number.status) for n in self._db.numbers.values())

    async def add(self, number: WhatsAppNumber) -> None:
        if self._clashes(number):
            raise WhatsAppNumberAlreadyRegistered()
        self._db.numbers[number.id] = copy.copy(number)

    async def get(self, number_id: UUID) -> WhatsAppNumber | None:
        found = self._db.numbers.get(number_id)
        return copy.copy(found) if found is not None and found.organization_id == self._org() else None

    async def update(self, number: WhatsAppNumber) -> None:
        if number.id in self._db.numbers and self._db.numbers[number.id].organization_id == number.organization_id:
            if self._clashes(number):
                raise WhatsAppNumberAlreadyRegistered()
            self._db.numbers[number.id] = copy.copy(number)

    async def list(self, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]:
        mine = sorted((n for n in self._db.numbers.values() if n.organization_id == self._org()),
                      key=lambda n: (n.created_at, n.id))
        return [copy.copy(n) for n in mine[offset:offset + limit]], len(mine)

    async def default_active(self) -> WhatsAppNumber | None:
        active, _ = await self.list(limit=10_000, offset=0)
        return next((n for n in active if n.status is NumberStatus.ACTIVE), None)

    async def get_by_phone_number_id_any_org(self, phone_number_id: str) -> WhatsAppNumber | None:
        found = next((n for n in self._db.numbers.values()
                      if n.phone_number_id == phone_number_id and n.status is NumberStatus.ACTIVE), None)
        return copy.copy(found) if found is not None else None

    async def routable_by_phone_number_ids(self, phone_number_ids: Sequence[str]) -> dict[str, WhatsAppNumber]:
        wanted = set(phone_number_ids)
        return {n.phone_number_id: copy.copy(n) for n in self._db.numbers.values()
                if n.phone_number_id in wanted and n.status is NumberStatus.ACTIVE}

    async def supersede_unproven_any_org(self, phone_number_id: str, *, owner_organization_id: UUID, reason: str,
                                         now: datetime) -> None:
        for n in self._db.numbers.values():
            if n.phone_number_id == phone_number_id and n.organization_id != owner_organization_id \
                    and n.status is not NumberStatus.ACTIVE:
                n.status, n.last_error, n.updated_at = NumberStatus.INACTIVE, reason, now


class FakeConversationRepository(_Repo, ConversationRepository):
    def _find(self, number_id: UUID, contact_id: UUID) -> Conversation | None:
        org = self._org()
        return next((c for c in self._db.conversations.values() if c.organization_id == org
                     and c.number_id == number_id and c.contact_id == contact_id), None)

    async def get(self, number_id: UUID, contact_id: UUID) -> Conversation | None:
        found = self._find(number_id, contact_id)
        return copy.copy(found) if found is not None else None

    async def get_for_update(self, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
        found = self._find(number_id, contact_id)
        if found is None:
            found = Conversation(id=uuid4(), organization_id=self._org(), number_id=number_id, contact_id=contact_id,
                                 created_at=now, updated_at=now)
            self._db.conversations[found.id] = found
        return copy.copy(found)

    async def update(self, conversation: Conversation) -> None:
        stored = self._db.conversations.get(conversation.id)
        if stored is not None and stored.organization_id == self._org():
            self._db.conversations[conversation.id] = copy.copy(conversation)

    async def record_inbound_many(self, inbound: Sequence[tuple[UUID, UUID, datetime]], now: datetime
                                  ) -> dict[tuple[UUID, UUID], Conversation]:
        found: dict[tuple[UUID, UUID], Conversation] = {}
        for number_id, contact_id, at in sorted(inbound):
            conversation = await self.get_for_update(number_id, contact_id, now)
            conversation.record_inbound(at)
            conversation.updated_at = now
            await self.update(conversation)
            found[(number_id, contact_id)] = copy.copy(conversation)
        return found

    async def open_windows(self, number_id: UUID, contact_ids: Sequence[UUID], now: datetime) -> set[UUID]:
        return {c.contact_id for c in self._db.conversations.values()
                if c.organization_id == self._org() and c.number_id == number_id and c.contact_id in contact_ids
                and c.last_inbound_at is not None and c.last_inbound_at > now - CUSTOMER_SERVICE_WINDOW}


class FakeMessageRepository(_Repo, MessageRepository):
    def _mine(self, message: Message | None) -> Message | None:
        return copy.deepcopy(message) if message is not None and message.organization_id == self._org() else None

    async def add(self, message: Message) -> None:
        if message.organization_id != self._org():
            raise RuntimeError("row-level security: message of another organization")
        if message.id in self._db.messages or (
                message.wamid is not None and any(m.wamid == message.wamid for m in self._db.messages.values())):
            raise RuntimeError("messages: duplicate id or wamid")
        self._db.messages[message.id] = copy.deepcopy(message)
        self._db.message_seq[message.id] = len(self._db.message_seq) + 1

    async def add_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.add(message)

    async def add_inbound_many(self, messages: Sequence[Message]) -> set[UUID]:
        return {m.id for m in messages if await self.add_inbound_if_new(m)}

    async def get_many(self, message_ids: Sequence[UUID], *, for_update: bool = False) -> dict[UUID, Message]:
        found = {i: self._mine(self._db.messages.get(i)) for i in message_ids}
        return {i: m for i, m in found.items() if m is not None}

    async def get_many_by_wamids(self, wamids: Sequence[str], *, for_update: bool = False) -> dict[str, Message]:
        wanted = set(wamids)
        return {str(m.wamid): copy.deepcopy(m) for m in self._db.messages.values()
                if m.wamid in wanted and m.organization_id == self._org()}

    async def update_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            await self.update(message)

    async def record_status_events(self, events: Sequence[tuple[Message, StatusEvent]]) -> set[tuple[UUID, str]]:
        return {(m.id, e.status) for m, e in events if await self.record_status_event(m, e)}

    async def add_inbound_if_new(self, message: Message) -> bool:
        if message.wamid is not None and any(m.wamid == message.wamid for m in self._db.messages.values()):
            return False
        await self.add(message)
        return True

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        return self._mine(self._db.messages.get(message_id))

    async def get_by_wamid(self, wamid: str, *, for_update: bool = False) -> Message | None:
        return self._mine(next((m for m in self._db.messages.values() if m.wamid == wamid), None))

    async def update(self, message: Message) -> None:
        stored = self._db.messages.get(message.id)
        if stored is None or stored.organization_id != self._org():
            return
        if message.wamid is not None and any(m.wamid == message.wamid and m.id != message.id
                                             for m in self._db.messages.values()):
            raise RuntimeError("messages: duplicate wamid")
        self._db.messages[message.id] = replace(copy.deepcopy(message), direction=stored.direction,
                                                created_at=stored.created_at)

    async def record_status_event(self, message: Message, event: StatusEvent) -> bool:
        if any(r.message_id == message.id and r.event.status == event.status for r in self._db.status_events):
            return False
        self._db.status_events.append(StatusRow(message.organization_id, message.id, event))
        return True

    async def status_history(self, message_id: UUID) -> list[StatusEvent]:
        rows = [r for r in self._db.status_events if r.message_id == message_id and r.organization_id == self._org()]
        return [r.event for r in sorted(rows, key=lambda r: r.event.occurred_at)]

    async def first_outbound_since(self, contact_id: UUID, number_id: UUID, since: datetime) -> Message | None:
        found = sorted((m for m in self._db.messages.values() if m.organization_id == self._org()
                        and m.contact_id == contact_id and m.number_id == number_id
                        and m.direction is MessageDirection.OUTBOUND and m.created_at >= since),
                       key=lambda m: (m.created_at, m.id))
        return copy.deepcopy(found[0]) if found else None

    async def list_for_contact(self, contact_id: UUID, *, limit: int, offset: int) -> tuple[list[Message], int]:
        found = sorted((m for m in self._db.messages.values()
                        if m.organization_id == self._org() and m.contact_id == contact_id),
                       key=lambda m: (m.occurred_at, m.id), reverse=True)
        return [copy.deepcopy(m) for m in found[offset:offset + limit]], len(found)


class FakeWebhookEventStore(_Repo, WebhookEventStore):
    def _stored(self, row: WebhookRow) -> StoredWebhook:
        return StoredWebhook(id=row.id, body=row.body, status=row.status, attempts=row.attempts, seq=row.seq,
                             received_at=row.received_at)

    async def get(self, event_id: UUID, *, for_update: bool = False) -> StoredWebhook | None:
        row = self._db.webhook_events.get(event_id)
        return self._stored(row) if row else None

    async def claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[StoredWebhook]:
        pending = sorted((r for r in self._db.webhook_events.values() if r.status == "pending"), key=lambda r: r.seq)
        blocked = {k for r in pending if r.lease_until is not None and r.lease_until >= now for k in r.sender_keys}
        chosen: list[WebhookRow] = []
        for row in pending:
            if row.lease_until is not None and row.lease_until >= now:
                continue
            if blocked.intersection(row.sender_keys):
                blocked.update(row.sender_keys)
                continue
            chosen.append(row)
            if len(chosen) == limit:
                break
        keys = {k for row in chosen for k in row.sender_keys}
        chosen += [row for row in pending if row not in chosen and keys.intersection(row.sender_keys)
                   and not (row.lease_until is not None and row.lease_until >= now)
                   and not {k for r in pending if r.lease_until is not None and r.lease_until >= now
                            for k in r.sender_keys}.intersection(row.sender_keys)]
        for row in chosen:
            row.lease_until, row.attempts = lease_until, row.attempts + 1
        return [self._stored(r) for r in chosen]

    async def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None:
        for event_id in event_ids:
            row = self._db.webhook_events.get(event_id)
            if row is not None and row.status == "pending":
                row.lease_until = lease_until

    async def release(self, event_ids: Sequence[UUID]) -> None:
        for event_id in event_ids:
            row = self._db.webhook_events.get(event_id)
            if row is not None and row.status == "pending":
                row.lease_until = None

    async def mark_processed(self, outcomes: Sequence[WebhookOutcome], now: datetime) -> None:
        for outcome in outcomes:
            row = self._db.webhook_events[outcome.webhook_id]
            row.status, row.processed_at, row.lease_until = "processed", now, None
            row.summary, row.last_error = dict(outcome.summary), outcome.error

    async def mark_dead(self, outcome: WebhookOutcome, now: datetime) -> None:
        row = self._db.webhook_events[outcome.webhook_id]
        row.status, row.lease_until, row.summary, row.last_error = "dead", None, dict(outcome.summary), outcome.error


class FakeWebhookInbox(WebhookInbox):
    """The route's inbox, writing straight into a channel store (what the group-committing adapter stores)."""

    def __init__(self, factory: FakeChannelUnitOfWorkFactory) -> None:
        self._factory = factory

    async def add(self, item: InboxItem) -> bool:
        events = self._factory.store.webhook_events
        if any(row.body_sha256 == item.body_sha256 for row in events.values()):
            return False
        events[item.id] = WebhookRow(item.id, item.body, item.body_sha256, item.received_at, seq=len(events) + 1,
                                     sender_keys=item.sender_keys)
        return True


MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


class FakeOutbox(_Repo, Outbox):
    """The adapter's claim rules: the number's per-second budget, a recipient's oldest queued message only,
    nothing to a recipient while a message to it is in flight or a recent media message is unconfirmed."""

    def _queued(self, number_id: UUID) -> list[Message]:
        org = self._org()
        return sorted((m for m in self._db.messages.values() if m.organization_id == org
                       and m.number_id == number_id and m.status == "queued"),
                      key=lambda m: self._db.message_seq.get(m.id, 0))

    def _due(self, message: Message, now: datetime) -> bool:
        return message.send_claimed_at is None and (message.next_attempt_at is None or message.next_attempt_at <= now)

    async def claim(self, number_id: UUID, *, per_second: int, limit: int, now: datetime,
                    hold_after_media: timedelta) -> OutboxClaim:
        second = now.replace(microsecond=0)
        used = self._db.admissions.get((f"number:{number_id}", second), 0)
        room = min(per_second - used, limit)
        queued = self._queued(number_id)
        if room <= 0:
            return OutboxClaim(messages=[], wait_seconds=1 - now.microsecond / 1e6,
                               more_due=any(self._due(m, now) for m in queued))
        busy = {m.contact_id for m in queued if m.send_claimed_at is not None}
        busy |= {m.contact_id for m in self._db.messages.values() if m.number_id == number_id
                 and m.status == "sent" and m.type in MEDIA_TYPES and m.confirmed_at is None
                 and m.sent_at is not None and m.sent_at > now - hold_after_media}
        claimed: list[tuple[Message, str | None]] = []
        seen: set[UUID | None] = set()
        for message in queued:
            first = message.contact_id not in seen
            seen.add(message.contact_id)
            if not first or message.contact_id in busy or not self._due(message, now) or len(claimed) == room:
                continue
            stored = self._db.messages[message.id]
            stored.send_claimed_at, stored.attempts = now, stored.attempts + 1
            person = self._db.contacts.get(message.contact_id) if message.contact_id else None
            claimed.append((copy.deepcopy(stored), person.whatsapp_id if person else None))
        self._db.admissions[(f"number:{number_id}", second)] = used + len(claimed)
        more = any(self._due(m, now) for m in self._queued(number_id))
        spent = used + len(claimed) >= per_second
        return OutboxClaim(messages=claimed, more_due=more,
                           wait_seconds=1 - now.microsecond / 1e6 if spent and more else 0.0)

    async def has_due(self, number_id: UUID, now: datetime) -> bool:
        return any(self._due(m, now) for m in self._queued(number_id))

    async def queued(self, number_id: UUID, limit: int) -> list[Message]:
        return [copy.deepcopy(m) for m in self._queued(number_id) if m.send_claimed_at is None][:limit]

    async def due_numbers(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        return sorted({(m.organization_id, m.number_id) for m in self._db.messages.values()
                       if m.status == "queued" and self._due(m, now)})[:limit]

    async def unconfirmed(self, claimed_before: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        found = sorted((m for m in self._db.messages.values() if m.status == "queued" and m.wamid is None
                        and m.send_claimed_at is not None and m.send_claimed_at < claimed_before),
                       key=lambda m: m.send_claimed_at or claimed_before)
        return [(m.organization_id, m.id) for m in found[:limit]]


# --------------------------------------------------------------------------- the outside world


@dataclass(frozen=True)
class GatewayCall:
    method: str
    phone_number_id: str
    access_token: str
    to: str
    tracking: str | None
    args: dict[str, Any]


class FakeWhatsAppGateway(WhatsAppGateway):
    """Records every call; answers a fresh wamid, or the next scripted error of :meth:`fail_next`."""

    def __init__(self) -> None:
        self.calls: list[GatewayCall] = []
        self.errors: deque[GraphApiError] = deque()
        self.details: dict[str, PhoneNumberDetails] = {}
        self.read: list[tuple[str, str]] = []
        self._ids = itertools.count(1)

    def fail_next(self, *errors: GraphApiError) -> None:
        self.errors.extend(errors)

    @property
    def sends(self) -> list[GatewayCall]:
        return [c for c in self.calls if c.method.startswith("send_")]

    async def _send(self, method: str, phone_number_id: str, access_token: str, to: str, tracking: str | None,
                    **args: Any) -> SentMessage:
        self.calls.append(GatewayCall(method, phone_number_id, access_token, to, tracking, args))
        if self.errors:
            raise self.errors.popleft()
        return SentMessage(wamid=f"wamid.fake{next(self._ids)}", wa_id=to)

    async def send_text(self, phone_number_id: str, access_token: str, to: str, body: str, preview_url: bool = False,
                        reply_to: str | None = None, tracking: str | None = None) -> SentMessage:
        return await self._send("send_text", phone_number_id, access_token, to, tracking, body=body,
                                reply_to=reply_to)

    async def send_template(self, phone_number_id: str, access_token: str, to: str, name: str, language: str,
                            components: Sequence[Mapping[str, Any]] = (), *, reply_to: str | None = None,
                            tracking: str | None = None) -> SentMessage:
        return await self._send("send_template", phone_number_id, access_token, to, tracking, name=name,
                                language=language, components=list(components))

    async def send_buttons(self, phone_number_id: str, access_token: str, to: str, body: str,
                           buttons: Sequence[tuple[str, str]], header: str | None = None, footer: str | None = None,
                           *, reply_to: str | None = None, tracking: str | None = None) -> SentMessage:
        return await self._send("send_buttons", phone_number_id, access_token, to, tracking, body=body,
                                buttons=list(buttons))

    async def send_list(self, phone_number_id: str, access_token: str, to: str, body: str, button: str,
                        sections: Sequence[ListSection], header: str | None = None, footer: str | None = None, *,
                        reply_to: str | None = None, tracking: str | None = None) -> SentMessage:
        return await self._send("send_list", phone_number_id, access_token, to, tracking, body=body, button=button,
                                sections=list(sections))

    async def send_media(self, phone_number_id: str, access_token: str, to: str, kind: MediaKind, link: str,
                         caption: str | None = None, filename: str | None = None, *, reply_to: str | None = None,
                         tracking: str | None = None) -> SentMessage:
        return await self._send("send_media", phone_number_id, access_token, to, tracking, kind=kind, link=link,
                                caption=caption)

    async def mark_read(self, phone_number_id: str, access_token: str, message_wamid: str) -> None:
        self.read.append((phone_number_id, message_wamid))

    async def get_phone_number(self, phone_number_id: str, access_token: str) -> PhoneNumberDetails:
        self.calls.append(GatewayCall("get_phone_number", phone_number_id, access_token, "", None, {}))
        if self.errors:
            raise self.errors.popleft()
        return self.details.get(phone_number_id) or PhoneNumberDetails(
            id=phone_number_id, display_phone_number="15550783881", verified_name="Test",
            code_verification_status="VERIFIED", throughput_level="STANDARD")


class FakeSendPacer(SendPacer):
    """Records reservations; answers ``wait`` seconds (0 by default)."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.reservations: list[tuple[str, float]] = []
        self.admissions: list[tuple[str, int]] = []

    async def reserve(self, key: str, rate_per_second: float, count: int = 1) -> float:
        self.reservations.append((key, rate_per_second))
        return self.wait

    async def admit(self, key: str, per_second: int) -> float:
        self.admissions.append((key, per_second))
        return 0.0


class FakeSecretResolver(SecretResolver):
    def __init__(self, tokens: Mapping[UUID, str] | None = None) -> None:
        self.tokens: dict[UUID, str] = dict(tokens or {})
        self.resolved: list[tuple[UUID, UUID]] = []
        self.failures: list[tuple[UUID, UUID]] = []
        self.uses: list[tuple[UUID, int, int]] = []  # (secret, successes, failures) as counted

    async def resolve(self, organization_id: UUID, secret_id: UUID, *, count: bool = True) -> str:
        if secret_id not in self.tokens:
            raise SecretNotFound()
        self.resolved.append((organization_id, secret_id))
        if count:
            self.uses.append((secret_id, 1, 0))
        return self.tokens[secret_id]

    async def report_failure(self, organization_id: UUID, secret_id: UUID) -> None:
        self.failures.append((organization_id, secret_id))

    async def count_uses(self, organization_id: UUID, secret_id: UUID, *, successes: int, failures: int) -> None:
        self.uses.append((secret_id, successes, failures))


# --------------------------------------------------------------------------- builders


def actor(organization_id: UUID, role: Role = Role.ORG_ADMIN) -> Actor:
    return Actor(user_id=uuid4(), organization_id=organization_id, role=role, session_id=uuid4(), jti="jti",
                 token_expires_at=T0 + timedelta(minutes=15))


def number(organization_id: UUID, *, phone_number_id: str = "106540352242922", secret_id: UUID | None = None,
           status: NumberStatus = NumberStatus.ACTIVE, throughput_mps: int = 80,
           created_at: datetime = T0) -> WhatsAppNumber:
    return WhatsAppNumber(id=uuid4(), organization_id=organization_id, phone_number_id=phone_number_id, waba_id=None,
                          phone_number="15550783881", display_name="Shop", status=status, verified=True,
                          access_token_secret_id=secret_id or uuid4(), throughput_mps=throughput_mps,
                          created_at=created_at, updated_at=created_at)


def contact(organization_id: UUID, whatsapp_id: str = "16505551234", at: datetime = T0) -> Contact:
    return Contact(id=uuid4(), organization_id=organization_id, whatsapp_id=whatsapp_id, created_at=at,
                   updated_at=at)


def outbound(num: WhatsAppNumber, person: Contact, *, kind: str = "text", content: dict[str, Any] | None = None,
             status: str = "queued", at: datetime = T0, **fields: Any) -> Message:
    return Message(id=uuid4(), organization_id=num.organization_id, number_id=num.id, contact_id=person.id,
                   direction=MessageDirection.OUTBOUND, type=kind, content=content or {"text": "hello"},
                   status=status, occurred_at=at, created_at=at, updated_at=at, **fields)
