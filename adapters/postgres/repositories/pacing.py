"""Pacing shared by every worker replica through PostgreSQL: a leaky bucket per key (automations' dispatch
rate) and per-second admission counters (a number's throughput)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from application.ports.channel import SendPacer

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
