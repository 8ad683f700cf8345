"""The read path on plain asyncpg: authentication in one statement, and list pages in a read-only transaction of
their own, without an ORM session.

Each round trip to PostgreSQL costs the API process more CPU (a socket write that wakes the server) than the SQL
costs the server, so the path counts them: authentication is one statement outside any transaction
(``pytake_access``, migration 0011); a contacts page is one more (``pytake_contacts_page``: the tenant settings
of row-level security, the page and its capped count in one statement). Other reads open a read-only transaction
with the tenant settings in one round trip (``read_transaction``). The
pool's connections switch to the application role once and skip asyncpg's reset on release (nothing here changes
the session: the tenant settings are local to the transaction).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import asyncpg

from adapters.postgres.counting import ListCounter, plan_rows
from adapters.postgres.errors import is_connection_problem
from adapters.postgres.repositories.contacts import like_pattern
from application.ports.common import Total
from application.ports.contacts import ContactListing
from application.ports.identity import AccessCheck, AccessFacts
from application.ports.uow import DatabaseUnavailable
from domain.contacts import Contact
from domain.identity import Role

_T = TypeVar("_T")


class FairPool:
    """asyncpg's pool, served first come, first served.

    asyncpg gives a released connection to whichever task asks next: a waiting task woken for it finds it taken
    by a newcomer and queues again at the back (``asyncio.Queue``). Under load a few requests waited ten times the
    median (``GET /contacts`` at 64 clients: p50 40 ms, p99 456 ms, max 1.1 s). Turns are taken in order at a FIFO
    semaphore of the pool's size in front of it, so the pool itself never makes anyone wait."""

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self._pool, self._turns = pool, asyncio.Semaphore(size)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._turns, self._pool.acquire() as connection:
            yield connection

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.acquire() as connection:
            return list(await connection.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.acquire() as connection:
            return await connection.fetchrow(query, *args)

    async def expire_connections(self) -> None:
        await self._pool.expire_connections()

    async def close(self) -> None:
        await self._pool.close()


async def read_pool(dsn: str, *, app_role: str | None, size: int = 10) -> AsyncIterator[FairPool]:
    """The read path's pool (a resource generator: open, yield, close); opens no connection until first used."""

    async def _init(connection: asyncpg.Connection) -> None:
        if app_role:
            await connection.execute(f'SET ROLE "{app_role}"')

    async def _keep(_: asyncpg.Connection) -> None:
        """asyncpg's default reset (advisory unlocks, CLOSE ALL, UNLISTEN, RESET ALL) is a round trip per request
        for nothing this pool does; an unfinished transaction is still rolled back by the pool before this runs."""

    pool = await asyncpg.create_pool(dsn, min_size=0, max_size=size, init=_init, reset=_keep)
    try:
        yield FairPool(pool, size)
    finally:
        await pool.close()


async def _read(pool: FairPool, query: Callable[[], Awaitable[_T]]) -> _T:
    """Run a read on the pool. A dropped connection (PostgreSQL restarted) makes every idle connection of the pool
    stale: they are all expired at once and the read is tried once more on a fresh one, so one restart costs no
    request (reads are idempotent); a database still down is DatabaseUnavailable."""
    for attempt in (1, 2):
        try:
            return await query()
        except Exception as error:
            if not is_connection_problem(error):
                raise
            await pool.expire_connections()
            if attempt == 2:
                raise DatabaseUnavailable() from error
    raise AssertionError("unreachable")


@asynccontextmanager
async def read_transaction(pool: FairPool, organization_id: UUID) -> AsyncIterator[asyncpg.Connection]:
    """A read-only transaction with the tenant set for row-level security, opened in one round trip."""
    if not isinstance(organization_id, UUID):  # rendered into the SQL below: a UUID's text is hex and dashes only
        raise TypeError("organization_id must be a UUID")
    try:
        async with pool.acquire() as connection:
            await connection.execute(
                "BEGIN READ ONLY; SELECT set_config('pytake.org_id', '" + str(organization_id) + "', true), "
                "set_config('pytake.scope', 'tenant', true)")
            try:
                yield connection
            finally:
                if not connection.is_closed():
                    await connection.execute("ROLLBACK")
    except Exception as error:
        if is_connection_problem(error):
            await pool.expire_connections()  # the others are as stale as this one
            raise DatabaseUnavailable() from error
        raise


class AsyncpgAccessCheck(AccessCheck):
    def __init__(self, pool: FairPool) -> None:
        self._pool = pool

    async def facts(self, *, user_id: UUID, session_id: UUID, jti: str, now: datetime,
                    acting_organization_id: UUID | None) -> AccessFacts:
        row = await _read(self._pool, lambda: self._pool.fetchrow(
            "SELECT * FROM pytake_access($1, $2, $3, $4, $5)", user_id, session_id, jti, now, acting_organization_id))
        if row is None:
            return AccessFacts(user_found=False, organization_id=None, role=None, is_active=False,
                               session_active=False, denied=False, acting_organization_exists=False)
        found = row["organization_id"] is not None
        return AccessFacts(user_found=found, organization_id=row["organization_id"] if found else None,
                           role=Role(row["role"]) if found else None, is_active=bool(found and row["is_active"]),
                           session_active=bool(row["session_active"]), denied=bool(row["denied"]),
                           acting_organization_exists=bool(row["acting_exists"]))


_CONTACT_FIELDS = tuple(f.name for f in fields(Contact))


def _contacts(rows: list[Any]) -> list[Contact]:
    """Contacts from ``pytake_contacts_page``'s whole rows: every column that is a field of Contact."""
    if not rows:
        return []
    present = set(rows[0]["contact"].keys())
    names = [name for name in _CONTACT_FIELDS if name in present and name not in ("tags", "attributes")]
    found = []
    for row in rows:
        record = row["contact"]
        attributes = record["attributes"]  # jsonb arrives as its text (composites are decoded in binary)
        found.append(Contact(
            **{name: record[name] for name in names}, tags=list(record["tags"] or ()),
            attributes={} if attributes is None or attributes == "{}" else
            json.loads(attributes) if isinstance(attributes, str) else attributes))
    return found


class AsyncpgContactListing(ContactListing):
    """``GET /contacts`` (list and search): one statement, ``pytake_contacts_page`` (migration 0011), sets the
    tenant for its own implicit transaction and returns the page with its count capped at the exact-count limit
    (no count at all while the list's estimate is remembered); the same SQL as
    ``SqlAlchemyContactRepository.search`` (tests/integration proves they agree). Past the end of the list, and
    past the limit, a read-only transaction counts or asks the planner."""

    def __init__(self, pool: FairPool, counter: ListCounter) -> None:
        self._pool, self._counter = pool, counter

    async def search(self, organization_id: UUID, *, query: str | None, limit: int,
                     offset: int) -> tuple[list[Contact], int]:
        key = ("contacts", organization_id, query)
        known = self._counter.cached(key)
        pattern = like_pattern(query) if query else None
        cap = self._counter.exact_limit + 1
        rows = await _read(self._pool, lambda: self._pool.fetch(
            "SELECT * FROM pytake_contacts_page($1, $2, $3, $4, $5)", organization_id, pattern, limit, offset,
            0 if known is not None else cap))
        contacts = _contacts(rows)
        if known is not None:
            return contacts, known
        if rows:
            found = int(rows[0]["capped_total"])
            if found <= self._counter.exact_limit:
                return contacts, Total(found)
        where = "organization_id = $1" + (" AND search_text LIKE $2 ESCAPE '\\'" if query else "")
        extra = [pattern] if query else []
        async with read_transaction(self._pool, organization_id) as connection:
            if not rows:  # past the end of the list, or nothing matches: the count alone
                found = int(await connection.fetchval(
                    f"SELECT count(*) FROM (SELECT 1 FROM contacts WHERE {where} LIMIT {cap}) AS capped",
                    organization_id, *extra))
                if found <= self._counter.exact_limit:
                    return contacts, Total(found)
            plan = await connection.fetchval(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM contacts WHERE {where}",
                                             organization_id, *extra)
        return contacts, self._counter.remember(key, plan_rows(plan))
