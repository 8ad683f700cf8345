"""The durable job queue (PgQueuer) bound to the unit of work's own connection and transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from pgqueuer.queries import Queries
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
