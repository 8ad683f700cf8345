"""The read path on plain asyncpg against real PostgreSQL: the contacts page and its total agree with the
repository's search, row-level security holds in its read-only transaction, and ``pytake_access`` reads the
deny-list, the session and the user in one statement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.postgres.counting import ListCounter
from adapters.postgres.database import asyncpg_dsn
from adapters.postgres.reads import (
    AsyncpgAccessCheck,
    AsyncpgContactListing,
    FairPool,
    read_pool,
    read_transaction,
)
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.contacts import Contact
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration

NAMES = ["Maria Silva", "Ana Souza", "Pedro Lima", "maria_souza", "100% Ana", None]


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[FairPool]:
    async for opened in read_pool(asyncpg_dsn(database_url), app_role="pytake_app", size=3):
        yield opened


@pytest.fixture(scope="module")
async def populated(uow_factory: SqlAlchemyUnitOfWorkFactory) -> UUID:
    org, _ = await make_org(uow_factory)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with uow_factory(org) as uow:
        for n in range(30):
            at = start + timedelta(minutes=n // 3)  # three share each created_at: the id breaks the tie
            await uow.contacts.add(Contact(id=uuid4(), organization_id=org, whatsapp_id=f"5511980{n:06d}",
                                           name=NAMES[n % len(NAMES)], email=f"c{n}@example.com" if n % 2 else None,
                                           tags=["vip"] if n % 4 == 0 else [], attributes={"n": n},
                                           created_at=at, updated_at=at))
        await uow.commit()
    return org


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.sampled_from([None, "maria", "ANA", "%", "_", "5511980000", "c1", "zzz", "100%"]),
       limit=st.integers(1, 12), offset=st.integers(0, 35), exact_limit=st.sampled_from([3, 10, 10_000]))
async def test_the_listing_agrees_with_the_repository(pool: asyncpg.Pool, uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                      populated: UUID, query: str | None, limit: int, offset: int,
                                                      exact_limit: int) -> None:
    listing = AsyncpgContactListing(pool, ListCounter(exact_limit=exact_limit, cache_seconds=0))
    async with uow_factory(populated) as uow:  # the repository counts exactly up to 10,000: every total here
        expected, exact = await uow.contacts.search(query=query, limit=limit, offset=offset)
    found, total = await listing.search(populated, query=query, limit=limit, offset=offset)
    assert found == expected
    if exact <= exact_limit:
        assert total == exact and not getattr(total, "estimated", False)
    else:
        assert getattr(total, "estimated", False) and total > exact_limit


async def test_row_level_security_holds_in_a_read_transaction(pool: asyncpg.Pool, populated: UUID) -> None:
    async with read_transaction(pool, uuid4()) as connection:  # another tenant, no WHERE on the organization
        assert await connection.fetchval("SELECT count(*) FROM contacts") == 0
    async with read_transaction(pool, populated) as connection:
        assert await connection.fetchval("SELECT count(*) FROM contacts") == 30
        assert await connection.fetchval("SELECT current_setting('transaction_read_only')") == "on"
    async with pool.acquire() as connection:  # nothing of the tenant outlives its transaction
        assert await connection.fetchval("SELECT count(*) FROM contacts") == 0


async def test_another_organizations_contacts_are_never_listed(pool: asyncpg.Pool, populated: UUID,
                                                               uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    other, _ = await make_org(uow_factory)
    listing = AsyncpgContactListing(pool, ListCounter(exact_limit=3, cache_seconds=60))
    assert (await listing.search(populated, query=None, limit=5, offset=0))[1] > 3
    found, total = await listing.search(other, query=None, limit=5, offset=0)
    assert found == [] and total == 0 and not getattr(total, "estimated", False)


async def test_access_facts_follow_the_session_the_deny_list_and_the_user(
        pool: asyncpg.Pool, uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow_factory)
    now = datetime.now(UTC)
    session_id = uuid4()
    async with uow_factory(org) as uow:
        await uow.sessions.create_session(session_id=session_id, user_id=user.id, organization_id=org, now=now,
                                          expires_at=now + timedelta(days=1))
        await uow.commit()
    check = AsyncpgAccessCheck(pool)
    facts = await check.facts(user_id=user.id, session_id=session_id, jti="j1", now=now, acting_organization_id=None)
    assert (facts.user_found, facts.organization_id, facts.role, facts.is_active) == (True, org, user.role, True)
    assert (facts.session_active, facts.denied, facts.acting_organization_exists) == (True, False, True)
    assert (await check.facts(user_id=user.id, session_id=session_id, jti="j1", now=now,
                              acting_organization_id=uuid4())).acting_organization_exists is False
    async with uow_factory(org) as uow:
        await uow.sessions.deny_access_token("j1", now + timedelta(minutes=15))
        await uow.sessions.revoke_session(session_id, now, "logout")
        await uow.commit()
    facts = await check.facts(user_id=user.id, session_id=session_id, jti="j1", now=now, acting_organization_id=None)
    assert facts.denied and not facts.session_active
    unknown = await check.facts(user_id=uuid4(), session_id=uuid4(), jti="j2", now=now, acting_organization_id=None)
    assert not unknown.user_found and unknown.role is None and not unknown.session_active


async def test_the_page_function_sets_the_tenant_for_its_own_statement_only(pool: asyncpg.Pool,
                                                                            populated: UUID) -> None:
    async with pool.acquire() as connection:
        rows = await connection.fetch("SELECT * FROM pytake_contacts_page($1, NULL, 5, 0, 11)", populated)
        assert len(rows) == 5 and {r["contact"]["organization_id"] for r in rows} == {populated}
        assert rows[0]["capped_total"] == 11  # 30 contacts, counted up to the cap
        assert await connection.fetchval("SELECT count(*) FROM contacts") == 0  # the tenant did not outlive it
        assert await connection.fetch("SELECT * FROM pytake_contacts_page($1, NULL, 5, 0, 0)", uuid4()) == []


async def test_the_read_pool_serves_waiting_requests_in_the_order_they_came(pool: FairPool) -> None:
    """Three connections, forty requests each wanting one twice (as authentication then the page do): connections
    are granted in the order they were asked for. asyncpg's own pool lets a task that just released a connection
    take it back for its next statement ahead of those already waiting, and under load a few requests waited
    ten times the median."""
    import asyncio

    asked: list[tuple[int, int]] = []
    granted: list[tuple[int, int]] = []

    async def turn(n: int, step: int) -> None:
        asked.append((n, step))
        async with pool.acquire() as connection:
            granted.append((n, step))
            await connection.fetchval("SELECT pg_sleep(0.002)")

    async def request(n: int) -> None:
        await turn(n, 1)
        await turn(n, 2)

    await asyncio.gather(*(pool.fetchrow("SELECT pg_sleep(0.01)") for _ in range(3)))  # all three connected
    await asyncio.gather(*(request(n) for n in range(40)))
    assert granted == asked
