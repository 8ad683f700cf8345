"""The webhook inbox on asyncpg, with group commit: deliveries arriving together share one INSERT and one
commit, and the worker is woken by NOTIFY in the same transaction.

A request waits for the commit that holds its delivery (so a 200 means durable); under load one writer's
transaction is in flight while the next group gathers, so throughput grows with concurrency instead of
with commits per second. No ORM, no session, no job row: one statement per group.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from adapters.postgres.errors import is_connection_problem
from adapters.postgres.jobs import channel_of
from application.ports.channel import InboxItem, WebhookInbox
from application.ports.uow import DatabaseUnavailable

INBOX_CHANNEL = channel_of("inbox")

_INSERT = f"""
    WITH stored AS (
        INSERT INTO webhook_events (id, body_sha256, body, received_at, status, attempts, sender_keys)
        SELECT id, sha, body, received_at, 'pending', 0,
               CASE WHEN keys = '' THEN '{{}}'::text[] ELSE string_to_array(keys, E'\\x1f') END
        FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::timestamptz[], $5::text[])
             AS d(id, sha, body, received_at, keys)
        ON CONFLICT ON CONSTRAINT webhook_events_body_key DO NOTHING
        RETURNING id)
    SELECT id, (SELECT pg_notify('{INBOX_CHANNEL}', '')) AS woken FROM stored
"""


@dataclass(slots=True)
class _Waiting:
    item: InboxItem
    done: asyncio.Future[bool]


class AsyncpgWebhookInbox(WebhookInbox):
    def __init__(self, pool: asyncpg.Pool, *, max_group: int = 500, writers: int = 2) -> None:
        self._pool, self._max_group = pool, max_group
        self._writers = asyncio.Semaphore(writers)
        self._waiting: list[_Waiting] = []
        self._flushing = 0
        self._max_flushing = writers

    async def add(self, item: InboxItem) -> bool:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(item, done))
        if self._flushing < self._max_flushing:
            self._flushing += 1
            asyncio.get_running_loop().create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        """Write what is waiting, group after group, until nothing is."""
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:self._max_group], self._waiting[self._max_group:]
                await self._write(group)
        finally:
            self._flushing -= 1

    async def _write(self, group: list[_Waiting]) -> None:
        unique: dict[str, _Waiting] = {}
        for waiting in group:  # the same body twice in one group: the first one is stored
            unique.setdefault(waiting.item.body_sha256, waiting)
        items = [w.item for w in unique.values()]
        try:
            async with self._writers, self._pool.acquire() as connection:
                rows = await connection.fetch(
                    _INSERT, [i.id for i in items], [i.body_sha256 for i in items], [i.body for i in items],
                    [i.received_at for i in items], ["\x1f".join(i.sender_keys) for i in items])
        except Exception as error:  # noqa: BLE001 - every request of the group gets the error
            failure: Exception = DatabaseUnavailable() if is_connection_problem(error) else error
            for waiting in group:
                if not waiting.done.done():
                    waiting.done.set_exception(failure)
            return
        stored = {row["id"] for row in rows}
        for waiting in group:
            if not waiting.done.done():
                waiting.done.set_result(waiting.item.id in stored)


async def inbox_pool(dsn: str, *, app_role: str | None, size: int = 2) -> AsyncIterator[asyncpg.Pool]:
    """A small pool of its own (a resource generator: open, yield, close): the inbox's writers never wait
    behind the API's other queries. Opens no connection until the first webhook."""

    async def _init(connection: asyncpg.Connection) -> None:
        if app_role:
            await connection.execute(f'SET ROLE "{app_role}"')

    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=size, init=_init)
    try:
        yield pool
    finally:
        await pool.close()
