"""The durable job queue (PgQueuer) bound to the unit of work's own connection and transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from pgqueuer.queries import Queries
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports.common import JobQueue


class PgQueuerJobQueue(JobQueue):
    def __init__(self, session: AsyncSession, headers: Mapping[str, str] | None = None) -> None:
        self._session = session
        self._headers = dict(headers or {})
        self._queries: Queries | None = None

    async def _q(self) -> Queries:
        if self._queries is None:
            connection = await self._session.connection()
            raw = await connection.get_raw_connection()
            self._queries = Queries.from_asyncpg_connection(raw.driver_connection)
        return self._queries

    async def enqueue(self, entrypoint: str, payload: Mapping[str, Any], *, dedupe_key: str | None = None,
                      delay: timedelta | None = None, priority: int = 0) -> bool:
        queries = await self._q()
        headers = dict(self._headers)
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            headers["request_id"] = str(request_id)
        ids = await queries.enqueue(
            entrypoint, json.dumps(payload, default=str).encode(), priority, delay, dedupe_key,
            headers or None, on_conflict="skip")
        return ids[0] is not None

    async def wake(self, topic: str, payload: str = "") -> None:
        await self._session.execute(_NOTIFY, {"channel": channel_of(topic), "payload": payload})


_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def channel_of(topic: str) -> str:
    """The LISTEN/NOTIFY channel workers wait on for a topic."""
    return f"pytake_{topic}"


async def release_jobs_of(connection: Any, queue_manager_id: object) -> int:
    """Jobs a consumer had picked when its queue connection broke go back to the queue at once (instead of
    waiting out the heartbeat timeout); a handler of it still running is harmless, every job is idempotent."""
    count = await connection.fetchval(
        "WITH released AS (UPDATE pgqueuer SET status = 'queued', queue_manager_id = NULL, heartbeat = now() "
        "WHERE status = 'picked' AND queue_manager_id = $1 RETURNING 1) SELECT count(*) FROM released",
        queue_manager_id)
    return int(count or 0)
