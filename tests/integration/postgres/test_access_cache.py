"""Access facts remembered by an API process: forgotten at once when PostgreSQL announces a change to what
authenticates a request (``NOTIFY pytake_auth`` from the triggers of migration 0019), never remembered while
nobody listens, never remembered when read across a change, and never past their time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest

from adapters.postgres.access_cache import CachedAccessCheck
from application.ports.identity import AccessCheck, AccessFacts
from domain.identity import Role
from tests.e2e.support import plain_dsn

pytestmark = pytest.mark.integration

ORG, USER, SESSION = uuid4(), uuid4(), uuid4()


class CountingAccess(AccessCheck):
    """The database's answer, counted (and, when ``gate`` is set, held until it opens)."""

    def __init__(self) -> None:
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def facts(self, *, user_id: UUID, session_id: UUID, jti: str, now: datetime,
                    acting_organization_id: UUID | None) -> AccessFacts:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        return AccessFacts(user_found=True, organization_id=ORG, role=Role.AGENT, is_active=True,
                           session_active=True, denied=False, acting_organization_exists=True)


async def ask(cache: CachedAccessCheck, jti: str = "jti-1") -> AccessFacts:
    return await cache.facts(user_id=USER, session_id=SESSION, jti=jti, now=datetime.now(UTC),
                             acting_organization_id=None)


@pytest.fixture
async def listening(database_url: str) -> AsyncIterator[tuple[CachedAccessCheck, CountingAccess]]:
    inner = CountingAccess()
    cache = CachedAccessCheck(inner, plain_dsn(database_url), seconds=60)
    stop = asyncio.Event()
    task = asyncio.create_task(cache.run(stop))
    for _ in range(200):
        if cache.listening:
            break
        await asyncio.sleep(0.01)
    assert cache.listening
    try:
        yield cache, inner
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert not cache.listening


async def run_sql(database_url: str, *statements: str) -> None:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def forgotten(cache: CachedAccessCheck, inner: CountingAccess) -> bool:
    """Whether the next question reads the database again (within 2 s of the change)."""
    for _ in range(200):
        before = inner.reads
        await ask(cache)
        if inner.reads > before:
            return True
        await asyncio.sleep(0.01)
    return False


CHANGES = [
    "UPDATE auth_sessions SET revoked_at = now() WHERE id = '{id}'",  # logout, reuse, password reset
    "DELETE FROM auth_sessions WHERE id = '{id}'",
    "INSERT INTO revoked_access_tokens SELECT * FROM revoked_access_tokens WHERE false",  # a token denied
    "UPDATE users SET role = role WHERE id = '{id}'",  # role, active flag, organization
    "DELETE FROM users WHERE id = '{id}'",
    "DELETE FROM organizations WHERE id = '{id}'",
]


@pytest.mark.parametrize("statement", CHANGES, ids=lambda s: " ".join(s.split()[:3]))
async def test_a_committed_change_to_what_authenticates_is_announced_and_forgotten(
        listening: tuple[CachedAccessCheck, CountingAccess], database_url: str, statement: str) -> None:
    cache, inner = listening
    await ask(cache)
    await ask(cache)
    assert inner.reads == 1  # remembered
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        async with connection.transaction():
            await connection.execute(statement.format(id=uuid4()))  # even a statement that changes no row
            await asyncio.sleep(0.1)
            await ask(cache)
            assert inner.reads == 1  # not yet committed: nothing announced
    finally:
        await connection.close()
    assert await forgotten(cache, inner)


async def test_other_statements_on_those_tables_are_not_announced(
        listening: tuple[CachedAccessCheck, CountingAccess], database_url: str) -> None:
    cache, inner = listening
    await ask(cache)
    await run_sql(database_url, "SELECT count(*) FROM users",
                  "INSERT INTO auth_sessions SELECT * FROM auth_sessions WHERE false")  # a login
    await asyncio.sleep(0.3)
    await ask(cache)
    assert inner.reads == 1


async def test_an_answer_read_across_a_change_is_not_remembered(
        listening: tuple[CachedAccessCheck, CountingAccess]) -> None:
    cache, inner = listening
    inner.gate = asyncio.Event()
    reading = asyncio.create_task(ask(cache))
    await asyncio.sleep(0.05)
    cache.forget()  # a notification arrives while the database is being read
    inner.gate.set()
    await reading
    await ask(cache)
    assert inner.reads == 2


async def test_nothing_is_remembered_while_nobody_listens_nor_past_its_time(database_url: str) -> None:
    inner = CountingAccess()
    now = [100.0]
    cache = CachedAccessCheck(inner, plain_dsn(database_url), seconds=2, clock=lambda: now[0])
    await ask(cache)
    await ask(cache)
    assert inner.reads == 2  # not listening: every question reads the database
    stop = asyncio.Event()
    task = asyncio.create_task(cache.run(stop))
    while not cache.listening:
        await asyncio.sleep(0.01)
    await ask(cache)
    await ask(cache)
    assert inner.reads == 3
    now[0] += 2.5
    await ask(cache)
    assert inner.reads == 4  # past AUTH_CACHE_SECONDS
    stop.set()
    await asyncio.wait_for(task, 5)
    await ask(cache)
    await ask(cache)
    assert inner.reads == 6


async def test_a_dropped_listener_connection_stops_the_remembering_until_it_is_back(
        listening: tuple[CachedAccessCheck, CountingAccess], database_url: str) -> None:
    cache, inner = listening
    await ask(cache)
    await run_sql(database_url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE query LIKE 'LISTEN%pytake_auth%' AND pid <> pg_backend_pid()")
    for _ in range(200):
        if not cache.listening:
            break
        await asyncio.sleep(0.01)
    assert not cache.listening
    await ask(cache)
    assert inner.reads == 2  # forgotten, and read again
    for _ in range(300):  # it connects again on its own
        if cache.listening:
            break
        await asyncio.sleep(0.01)
    assert cache.listening
