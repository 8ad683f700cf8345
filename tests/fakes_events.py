"""In-memory event log and stream tickets on the one ``FakeStore`` (``tests/fake_uow.py``: ``events``,
``event_seq``, ``event_purged``, ``event_tickets``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from application.ports.events import EventLog, EventTicket, EventTicketRepository, StoredEvent
from domain.events import EventType


class _EventStore(Protocol):
    events: list[tuple[StoredEvent, datetime | None]]
    event_seq: int
    event_purged: dict[UUID, int]
    event_tickets: dict[str, EventTicket]


class _Unit(Protocol):
    organization_id: UUID | None

    @property
    def work(self) -> Any: ...


class FakeEventLog(EventLog):
    """Appends straight into the unit of work's copy of the store: dropped with it unless committed."""

    def __init__(self, uow: _Unit, clock_now: datetime | None = None) -> None:
        self._uow, self._now = uow, clock_now

    @property
    def _db(self) -> _EventStore:
        store: _EventStore = self._uow.work
        return store

    def append(self, type: EventType, payload: Mapping[str, Any], *, organization_id: UUID | None = None) -> None:
        org = organization_id or self._uow.organization_id
        if org is None:
            raise ValueError("an event of the system scope needs its organization_id")
        if self._uow.organization_id not in (None, org):
            raise RuntimeError("row-level security: an event of another tenant")
        self._db.event_seq += 1
        self._db.events.append((StoredEvent(id=self._db.event_seq, organization_id=org, type=type.value,
                                            payload=dict(payload)), self._now))

    async def flush(self) -> None:
        return None

    async def after(self, organization_id: UUID, after_id: int, limit: int) -> list[StoredEvent]:
        return [e for e, _ in self._db.events if e.organization_id == organization_id and e.id > after_id][:limit]

    async def after_many(self, cursors: Mapping[UUID, int], limit: int) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        for org, after in cursors.items():
            found += await self.after(org, after, limit)
        return sorted(found, key=lambda e: e.id)

    async def latest_id(self, organization_id: UUID) -> int:
        return max((e.id for e, _ in self._db.events if e.organization_id == organization_id), default=0)

    async def purged_through(self, organization_id: UUID) -> int:
        return self._db.event_purged.get(organization_id, 0)

    async def purge(self, before: datetime, limit: int) -> int:
        gone = [(e, at) for e, at in self._db.events if at is not None and at < before][:limit]
        for e, _ in gone:
            self._db.event_purged[e.organization_id] = max(self._db.event_purged.get(e.organization_id, 0), e.id)
        self._db.events = [row for row in self._db.events if row not in gone]
        return len(gone)


class FakeEventTicketRepository(EventTicketRepository):
    def __init__(self, uow: _Unit) -> None:
        self._uow = uow

    @property
    def _db(self) -> _EventStore:
        store: _EventStore = self._uow.work
        return store

    async def add(self, ticket: EventTicket) -> None:
        self._db.event_tickets[ticket.token_hash] = ticket

    async def consume(self, token_hash: str, now: datetime) -> EventTicket | None:
        found = self._db.event_tickets.pop(token_hash, None)
        return found if found is not None and found.expires_at > now else None

    async def delete_expired(self, now: datetime) -> int:
        gone = [h for h, t in self._db.event_tickets.items() if t.expires_at <= now]
        for h in gone:
            del self._db.event_tickets[h]
        return len(gone)
