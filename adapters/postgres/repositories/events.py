"""The event log (``events``) and the stream tickets (``event_tickets``) on PostgreSQL.

Appended events wait in memory until the unit of work commits; then, right before the commit, the
organizations' advisory locks are taken (in id order) and every buffered event is inserted by one statement
that also sends one ``pytake_events`` NOTIFY per organization (``<organization id>:<highest id>``, delivered
at commit). The lock is held from the insert to the commit only, so the ids of one organization are in
commit order: a listener that has read up to id N never later finds a smaller id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports.events import EventLog, EventTicket, EventTicketRepository, StoredEvent
from domain.events import EventType

EVENTS_CHANNEL = "pytake_events"
LOCK_CLASS = 0x5045  # the two-key advisory lock space of event ids (classid, hashtext(organization id))

_LOCK = text("SELECT pg_advisory_xact_lock(:cls, hashtext(o)) FROM "
             "(SELECT o FROM unnest(CAST(:orgs AS text[])) AS o ORDER BY o) AS ordered")
_INSERT = text(f"""
WITH ins AS (
    INSERT INTO events (organization_id, type, payload)
    SELECT o, t, CAST(p AS jsonb) FROM unnest(CAST(:orgs AS uuid[]), CAST(:types AS text[]),
                                              CAST(:payloads AS text[])) WITH ORDINALITY AS e(o, t, p, n)
    ORDER BY n
    RETURNING organization_id, id
)
SELECT pg_notify('{EVENTS_CHANNEL}', organization_id::text || ':' || max(id)::text) FROM ins
GROUP BY organization_id
""")
_AFTER = text("SELECT id, organization_id, type, payload FROM events WHERE organization_id = :org AND id > :after "
              "ORDER BY id LIMIT :limit")
_AFTER_MANY = text("""
SELECT e.id, e.organization_id, e.type, e.payload
FROM unnest(CAST(:orgs AS uuid[]), CAST(:afters AS bigint[])) AS c(org, after)
CROSS JOIN LATERAL (SELECT id, organization_id, type, payload FROM events
                    WHERE organization_id = c.org AND id > c.after ORDER BY id LIMIT :limit) AS e
ORDER BY e.id
""")
_PURGE = text("""
WITH gone AS (
    DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_at < :before ORDER BY created_at LIMIT :limit)
    RETURNING organization_id, id
), marks AS (
    INSERT INTO event_purges (organization_id, purged_through)
    SELECT organization_id, max(id) FROM gone GROUP BY organization_id
    ON CONFLICT (organization_id) DO UPDATE
        SET purged_through = greatest(event_purges.purged_through, excluded.purged_through)
)
SELECT count(*) FROM gone
""")


class SqlAlchemyEventLog(EventLog):
    def __init__(self, session: AsyncSession, organization_id: UUID | None) -> None:
        self._s, self._org = session, organization_id
        self._pending: list[tuple[UUID, str, str]] = []

    def append(self, type: EventType, payload: Mapping[str, Any], *, organization_id: UUID | None = None) -> None:
        org = organization_id or self._org
        if org is None:
            raise ValueError("an event of the system scope needs its organization_id")
        self._pending.append((org, type.value, json.dumps(payload, default=str, separators=(",", ":"))))

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        await self._s.execute(_LOCK, {"cls": LOCK_CLASS, "orgs": sorted({str(o) for o, _, _ in pending})})
        await self._s.execute(_INSERT, {"orgs": [o for o, _, _ in pending], "types": [t for _, t, _ in pending],
                                        "payloads": [p for _, _, p in pending]})

    async def after(self, organization_id: UUID, after_id: int, limit: int) -> list[StoredEvent]:
        rows = await self._s.execute(_AFTER, {"org": organization_id, "after": after_id, "limit": limit})
        return [_event(r) for r in rows]

    async def after_many(self, cursors: Mapping[UUID, int], limit: int) -> list[StoredEvent]:
        if not cursors:
            return []
        orgs = list(cursors)
        rows = await self._s.execute(_AFTER_MANY, {"orgs": orgs, "afters": [cursors[o] for o in orgs],
                                                   "limit": limit})
        return [_event(r) for r in rows]

    async def latest_id(self, organization_id: UUID) -> int:
        found = await self._s.scalar(text("SELECT max(id) FROM events WHERE organization_id = :org"),
                                     {"org": organization_id})
        return int(found or 0)

    async def purged_through(self, organization_id: UUID) -> int:
        found = await self._s.scalar(text("SELECT purged_through FROM event_purges WHERE organization_id = :org"),
                                     {"org": organization_id})
        return int(found or 0)

    async def purge(self, before: datetime, limit: int) -> int:
        return int(await self._s.scalar(_PURGE, {"before": before, "limit": limit}) or 0)


def _event(row: Any) -> StoredEvent:
    return StoredEvent(id=int(row.id), organization_id=row.organization_id, type=row.type, payload=row.payload)


class SqlAlchemyEventTicketRepository(EventTicketRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, ticket: EventTicket) -> None:
        await self._s.execute(text(
            "INSERT INTO event_tickets (token_hash, organization_id, user_id, created_at, expires_at) "
            "VALUES (:h, :org, :user, :created, :expires)"),
            {"h": ticket.token_hash, "org": ticket.organization_id, "user": ticket.user_id,
             "created": ticket.created_at, "expires": ticket.expires_at})

    async def consume(self, token_hash: str, now: datetime) -> EventTicket | None:
        row = (await self._s.execute(text(
            "DELETE FROM event_tickets WHERE token_hash = :h "
            "RETURNING token_hash, organization_id, user_id, created_at, expires_at"), {"h": token_hash})).first()
        if row is None or row.expires_at <= now:
            return None
        return EventTicket(token_hash=row.token_hash, organization_id=row.organization_id, user_id=row.user_id,
                           created_at=row.created_at, expires_at=row.expires_at)

    async def delete_expired(self, now: datetime) -> int:
        result = await self._s.execute(text("DELETE FROM event_tickets WHERE expires_at <= :now"), {"now": now})
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
