"""Raw webhook deliveries and the cross-replica send pacer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from adapters.postgres.tables import webhook_events
from application.ports.channel import SendPacer, StoredWebhook, WebhookEventStore


class SqlAlchemyWebhookEventStore(WebhookEventStore):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, *, event_id: UUID, body: bytes, body_sha256: str, received_at: datetime) -> bool:
        result = await self._s.execute(pg_insert(webhook_events).values(
            id=event_id, body=body, body_sha256=body_sha256, received_at=received_at, status="pending",
            attempts=0).on_conflict_do_nothing(constraint="webhook_events_body_key").returning(webhook_events.c.id))
        return result.first() is not None

    async def get(self, event_id: UUID, *, for_update: bool = False) -> StoredWebhook | None:
        query = select(webhook_events.c.id, webhook_events.c.body, webhook_events.c.status,
                       webhook_events.c.attempts).where(webhook_events.c.id == event_id)
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return StoredWebhook(id=row.id, body=bytes(row.body), status=row.status, attempts=row.attempts) if row else None

    async def mark(self, event_id: UUID, *, status: str, now: datetime, summary: dict[str, int] | None = None,
                   error: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "attempts": webhook_events.c.attempts + 1}
        if status == "processed":
            values["processed_at"] = now
        if summary is not None:
            values["summary"] = summary
        if error is not None:
            values["last_error"] = error[:1000]
        await self._s.execute(update(webhook_events).where(webhook_events.c.id == event_id).values(**values))

    async def list_stalled(self, *, received_before: datetime, limit: int) -> list[UUID]:
        rows = await self._s.execute(
            select(webhook_events.c.id).where(webhook_events.c.status != "processed",  # the partial index
                                              webhook_events.c.status == "pending",
                                              webhook_events.c.received_at < received_before)
            .order_by(webhook_events.c.received_at).limit(limit))
        return [row.id for row in rows]


_RESERVE = text("""
    INSERT INTO send_pacers AS p (key, next_slot_at)
    VALUES (:key, clock_timestamp() + make_interval(secs => :interval))
    ON CONFLICT (key) DO UPDATE
        SET next_slot_at = greatest(p.next_slot_at, clock_timestamp()) + make_interval(secs => :interval)
    RETURNING extract(epoch FROM (p.next_slot_at - make_interval(secs => :interval) - clock_timestamp())) AS wait
""")


_ADMIT = text("""
    WITH now AS (SELECT clock_timestamp() AS t),
    purge AS (DELETE FROM send_admissions WHERE key = :key AND second < (SELECT t FROM now) - interval '1 minute'),
    counted AS (
        INSERT INTO send_admissions AS a (key, second, count)
        VALUES (:key, date_trunc('second', (SELECT t FROM now)), 1)
        ON CONFLICT (key, second) DO UPDATE SET count = a.count + 1 WHERE a.count < :limit
        RETURNING count)
    SELECT EXISTS (SELECT 1 FROM counted) AS admitted,
           extract(epoch FROM date_trunc('second', t) + interval '1 second' - t) AS wait
    FROM now
""")


class PostgresSendPacer(SendPacer):
    """A leaky bucket in one row per key: each reservation takes the next slot ``1/rate`` after the last,
    so every replica together never exceeds the rate. Runs in its own short transaction."""

    def __init__(self, engine: AsyncEngine, *, margin: float = 0.02) -> None:
        self._engine, self._margin = engine, margin

    async def reserve(self, key: str, rate_per_second: float, count: int = 1) -> float:
        interval = max(count, 1) * (1.0 + self._margin) / max(rate_per_second, 0.001)
        async with self._engine.begin() as connection:
            wait = (await connection.execute(_RESERVE, {"key": key, "interval": interval})).scalar_one()
        return max(float(wait), 0.0)

    async def admit(self, key: str, per_second: int) -> float:
        async with self._engine.begin() as connection:
            row = (await connection.execute(_ADMIT, {"key": key, "limit": per_second})).one()
        return 0.0 if row.admitted else max(float(row.wait), 0.001)
