"""Stored webhook deliveries as the worker's queue: claimed in leased batches, marked when applied."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.tables import webhook_events
from application.ports.channel import StoredWebhook, WebhookEventStore, WebhookOutcome

CLAIM_LOCK = 7_340_001
"""Advisory lock key serializing claims: a claim reads which senders are leased and leases more."""

_CANDIDATES = text("""
    SELECT id, sender_keys FROM webhook_events
    WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < :now)
    ORDER BY seq LIMIT :scan
""")
_LEASED_SENDERS = text("""
    SELECT DISTINCT unnest(sender_keys) AS key FROM webhook_events
    WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_until >= :now
""")
_SAME_SENDERS = text("""
    SELECT id, sender_keys FROM webhook_events
    WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < :now) AND sender_keys && :keys
      AND NOT (id = ANY(:chosen))
    ORDER BY seq
""")
_LEASE = text("""
    UPDATE webhook_events SET lease_until = :lease_until, attempts = attempts + 1
    WHERE id = ANY(:ids) AND status = 'pending'
    RETURNING id, seq, body, received_at, attempts, status
""")


def choose(candidates: Sequence[tuple[UUID, Sequence[str]]], leased: set[str], limit: int) -> list[UUID]:
    """Deliveries to lease, in arrival order: one that names a sender that is leased, or named by a delivery
    left out before it, is left out too (so a sender's later delivery never overtakes an earlier one)."""
    blocked, chosen = set(leased), []
    for event_id, keys in candidates:
        if blocked.intersection(keys):
            blocked.update(keys)
            continue
        chosen.append(event_id)
        if len(chosen) == limit:
            break
    return chosen


def with_same_senders(chosen: list[UUID], more: Sequence[tuple[UUID, Sequence[str]]], leased: set[str]) -> list[UUID]:
    """``chosen`` plus every other pending delivery about its senders (so one sender's messages are applied
    together, in Meta's order, whatever order they arrived in), unless it also names a leased sender."""
    return chosen + [event_id for event_id, keys in more if not leased.intersection(keys)]


class SqlAlchemyWebhookEventStore(WebhookEventStore):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, event_id: UUID, *, for_update: bool = False) -> StoredWebhook | None:
        query = select(webhook_events.c.id, webhook_events.c.body, webhook_events.c.status,
                       webhook_events.c.attempts, webhook_events.c.seq, webhook_events.c.received_at
                       ).where(webhook_events.c.id == event_id)
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _stored(row) if row else None

    async def claim(self, *, limit: int, now: datetime, lease_until: datetime) -> list[StoredWebhook]:
        await self._s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
        candidates = (await self._s.execute(_CANDIDATES, {"now": now, "scan": limit * 4})).all()
        if not candidates:
            return []
        leased: set[str] = set()
        if any(keys for _, keys in candidates):
            leased = {row.key for row in await self._s.execute(_LEASED_SENDERS, {"now": now})}
        chosen = choose([(row.id, row.sender_keys) for row in candidates], leased, limit)
        keys = sorted({k for row in candidates if row.id in set(chosen) for k in row.sender_keys})
        if keys:
            more = (await self._s.execute(_SAME_SENDERS, {"now": now, "keys": keys, "chosen": chosen})).all()
            chosen = with_same_senders(chosen, [(row.id, row.sender_keys) for row in more], leased)
        rows = (await self._s.execute(_LEASE, {"ids": chosen, "lease_until": lease_until})).all()
        return sorted((_stored(row) for row in rows), key=lambda w: w.seq)

    async def extend_lease(self, event_ids: Sequence[UUID], lease_until: datetime) -> None:
        await self._s.execute(update(webhook_events).where(
            webhook_events.c.id.in_(list(event_ids)), webhook_events.c.status == "pending")
            .values(lease_until=lease_until))

    async def release(self, event_ids: Sequence[UUID]) -> None:
        await self._s.execute(update(webhook_events).where(
            webhook_events.c.id.in_(list(event_ids)), webhook_events.c.status == "pending")
            .values(lease_until=None))

    async def mark_processed(self, outcomes: Sequence[WebhookOutcome], now: datetime) -> None:
        if not outcomes:
            return
        await self._s.execute(
            update(webhook_events).where(webhook_events.c.id == bindparam("_id"))
            .values(status="processed", processed_at=now, lease_until=None, summary=bindparam("_summary", type_=JSONB),
                    last_error=bindparam("_error")),
            [{"_id": o.webhook_id, "_summary": o.summary, "_error": (o.error or None) and o.error[:1000]}
             for o in outcomes])

    async def mark_dead(self, outcome: WebhookOutcome, now: datetime) -> None:
        await self._s.execute(update(webhook_events).where(webhook_events.c.id == outcome.webhook_id).values(
            status="dead", lease_until=None, summary=outcome.summary,
            last_error=(outcome.error or "")[:1000] or None))


def _stored(row: object) -> StoredWebhook:
    return StoredWebhook(id=row.id, body=bytes(row.body), status=row.status,  # type: ignore[attr-defined]
                         attempts=row.attempts, seq=row.seq, received_at=row.received_at)  # type: ignore[attr-defined]
