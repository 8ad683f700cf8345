"""Operational statistics read straight from the queue and webhook tables (system scope, read-only)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import is_connection_problem
from application.ports.operations import DeadLetter, OperationalStats, OperationsMonitor, QueueDepth
from application.ports.uow import DatabaseUnavailable

_QUEUE = text("""SELECT entrypoint, status::text AS status, count(*) AS jobs,
                        coalesce(extract(epoch FROM now() - min(created)), 0) AS oldest
                 FROM pgqueuer GROUP BY entrypoint, status ORDER BY entrypoint, status""")
_WEBHOOKS = text("""SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                           coalesce(extract(epoch FROM now() - min(received_at) FILTER (WHERE status = 'pending')), 0)
                               AS oldest,
                           count(*) FILTER (WHERE status = 'dead') AS dead
                    FROM webhook_events WHERE status <> 'processed'""")
_DEAD = text("""
    SELECT * FROM (
        SELECT 'job' AS kind, id::text AS id, entrypoint, attempts, updated AS failed_at, NULL::text AS error
        FROM pgqueuer WHERE status = 'failed'
        UNION ALL
        SELECT 'webhook', id::text, 'process_webhook', attempts, processed_at, last_error
        FROM webhook_events WHERE status = 'dead'
    ) d ORDER BY failed_at DESC NULLS LAST, id LIMIT :limit OFFSET :offset""")
_DEAD_COUNT = text("""SELECT (SELECT count(*) FROM pgqueuer WHERE status = 'failed')
                           + (SELECT count(*) FROM webhook_events WHERE status = 'dead')""")


class PostgresOperationsMonitor(OperationsMonitor):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def stats(self) -> OperationalStats:
        try:
            return await self._stats()
        except Exception as error:
            if is_connection_problem(error):
                raise DatabaseUnavailable() from error
            raise

    async def _stats(self) -> OperationalStats:
        async with self._engine.begin() as connection:
            await connection.execute(text("SELECT set_config('pytake.scope', 'system', true)"))
            queue = [QueueDepth(entrypoint=r.entrypoint, status=r.status, count=int(r.jobs),
                                oldest_age_seconds=float(r.oldest)) for r in (await connection.execute(_QUEUE)).all()]
            hooks = (await connection.execute(_WEBHOOKS)).one()
            dead = int((await connection.execute(_DEAD_COUNT)).scalar_one())
        return OperationalStats(queue=queue, webhooks_pending=int(hooks.pending),
                                oldest_pending_webhook_age_seconds=float(hooks.oldest), dead_letters=dead)

    async def dead_letters(self, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
        async with self._engine.begin() as connection:
            await connection.execute(text("SELECT set_config('pytake.scope', 'system', true)"))
            rows = (await connection.execute(_DEAD, {"limit": limit, "offset": offset})).all()
            total = int((await connection.execute(_DEAD_COUNT)).scalar_one())
        return [DeadLetter(kind=r.kind, id=r.id, entrypoint=r.entrypoint, attempts=int(r.attempts),
                           failed_at=r.failed_at, error=(r.error or None) and r.error[:500]) for r in rows], total
