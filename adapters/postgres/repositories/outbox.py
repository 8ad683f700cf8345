"""Queued outbound messages as the sender's queue: a number's budget per second and the claim, together."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.repositories.channel import message_from_row
from application.ports.channel import Outbox, OutboxClaim
from domain.channel import Message

MEDIA_TYPES = ["image", "video", "audio", "document", "sticker"]

# The budget row of the current second, locked: two workers claiming for one number take turns here.
_BUDGET = text("""
    INSERT INTO send_admissions AS a (key, second, count) VALUES (:key, date_trunc('second', clock_timestamp()), 0)
    ON CONFLICT (key, second) DO UPDATE SET count = a.count
    RETURNING count AS used, second, extract(epoch FROM clock_timestamp() - second) AS into
""")
_SPEND = text("""
    WITH spent AS (UPDATE send_admissions SET count = count + :n WHERE key = :key AND second = :second)
    DELETE FROM send_admissions WHERE key = :key AND second < :second - interval '1 minute'
""")
# A recipient's oldest queued message, when nothing to it is in flight and no recent media message of
# it waits for its status webhook; oldest first; rows another transaction holds are skipped.
_CLAIM = text("""
    UPDATE messages m SET send_claimed_at = :now, attempts = m.attempts + 1
    WHERE m.id IN (
        SELECT q.id FROM messages q
        WHERE q.organization_id = :org AND q.number_id = :number AND q.status = 'queued'
          AND q.send_claimed_at IS NULL AND (q.next_attempt_at IS NULL OR q.next_attempt_at <= :now)
          AND NOT EXISTS (
              SELECT 1 FROM messages e
              WHERE e.number_id = q.number_id AND e.contact_id = q.contact_id AND e.status = 'queued'
                AND (e.send_claimed_at IS NOT NULL OR e.seq < q.seq))
          AND NOT EXISTS (
              SELECT 1 FROM messages h
              WHERE h.organization_id = q.organization_id AND h.contact_id = q.contact_id
                AND h.number_id = q.number_id AND h.status = 'sent' AND h.type = ANY(:media)
                AND h.confirmed_at IS NULL AND h.sent_at > :hold_since)
        ORDER BY q.seq
        LIMIT :limit
        FOR UPDATE OF q SKIP LOCKED)
    RETURNING m.*, (SELECT coalesce(c.whatsapp_id, c.bsuid) FROM contacts c WHERE c.id = m.contact_id) AS recipient
""")
_MORE_DUE = text("""
    SELECT EXISTS (SELECT 1 FROM messages WHERE organization_id = :org AND number_id = :number
                   AND status = 'queued' AND send_claimed_at IS NULL
                   AND (next_attempt_at IS NULL OR next_attempt_at <= :now))
""")
_QUEUED = text("""
    SELECT * FROM messages WHERE organization_id = :org AND number_id = :number AND status = 'queued'
      AND send_claimed_at IS NULL ORDER BY seq LIMIT :limit FOR UPDATE SKIP LOCKED
""")
# numbers whose breaker is open are left alone: their messages wait, and are found again once it closes
_DUE_NUMBERS = text("""
    SELECT DISTINCT m.organization_id, m.number_id FROM messages m
    WHERE m.status = 'queued' AND m.send_claimed_at IS NULL AND (m.next_attempt_at IS NULL OR m.next_attempt_at <= :now)
      AND NOT EXISTS (
          SELECT 1 FROM whatsapp_numbers n
          WHERE n.id = m.number_id AND n.send_pause_code IS NOT NULL
            AND (n.send_paused_until IS NULL OR n.send_paused_until > :now))
    LIMIT :limit
""")
_UNCONFIRMED = text("""
    SELECT organization_id, id FROM messages
    WHERE status = 'queued' AND send_claimed_at IS NOT NULL AND send_claimed_at < :before AND wamid IS NULL
    ORDER BY send_claimed_at LIMIT :limit
""")


TICK = 0.1
"""The budget of a second is spread over it: by ``t`` seconds into the second, at most
``ceil(per_second * (t + TICK))`` sends (never more than ``per_second``), so a number sends evenly, not in one
burst at the start of each second."""


def allowance(per_second: int, into: float) -> int:
    """Sends allowed so far in the current second, ``into`` seconds into it."""
    return min(per_second, math.ceil(per_second * min(1.0, into + TICK)))


def wait_for_allowance(per_second: int, into: float, used: int) -> float:
    """Seconds until one more send is allowed."""
    if used >= per_second:
        return max(1.0 - into, 0.001)
    return max((used + 1) / per_second - TICK - into, 0.001)


class SqlAlchemyOutbox(Outbox):
    def __init__(self, session: AsyncSession, organization_id: UUID | None) -> None:
        self._s, self._org = session, organization_id

    def _require(self) -> UUID:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._org

    async def claim(self, number_id: UUID, *, per_second: int, limit: int, now: datetime,
                    hold_after_media: timedelta) -> OutboxClaim:
        org, key = self._require(), f"number:{number_id}"
        budget = (await self._s.execute(_BUDGET, {"key": key})).one()
        used, into = int(budget.used), min(max(float(budget.into), 0.0), 0.999)
        room = min(allowance(per_second, into) - used, limit)
        if room <= 0:
            return OutboxClaim(messages=[], wait_seconds=wait_for_allowance(per_second, into, used),
                               more_due=True)
        params: dict[str, Any] = {"org": org, "number": number_id, "now": now, "media": MEDIA_TYPES,
                                  "hold_since": now - hold_after_media, "limit": room}
        rows = (await self._s.execute(_CLAIM, params)).all()
        if rows:
            await self._s.execute(_SPEND, {"n": len(rows), "key": key, "second": budget.second})
        claimed = [(message_from_row(row), row.recipient) for row in sorted(rows, key=lambda r: r.seq)]
        more = await self.has_due(number_id, now)
        used += len(rows)
        wait = wait_for_allowance(per_second, into, used) if more and used >= allowance(per_second, into) else 0.0
        return OutboxClaim(messages=claimed, more_due=more, wait_seconds=wait)

    async def has_due(self, number_id: UUID, now: datetime) -> bool:
        params = {"org": self._require(), "number": number_id, "now": now}
        return bool((await self._s.execute(_MORE_DUE, params)).scalar())

    async def queued(self, number_id: UUID, limit: int) -> list[Message]:
        rows = (await self._s.execute(_QUEUED, {"org": self._require(), "number": number_id, "limit": limit})).all()
        return [message_from_row(row) for row in rows]

    async def due_numbers(self, now: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        rows = (await self._s.execute(_DUE_NUMBERS, {"now": now, "limit": limit})).all()
        return [(row.organization_id, row.number_id) for row in rows]

    async def unconfirmed(self, claimed_before: datetime, limit: int) -> list[tuple[UUID, UUID]]:
        rows = (await self._s.execute(_UNCONFIRMED, {"before": claimed_before, "limit": limit})).all()
        return [(row.organization_id, row.id) for row in rows]
