"""The PostgreSQL repositories against a real server: scoping, constraints, atomic counters, the queue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from adapters.clock import SystemClock
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.security.jwt_tokens import JwtAccessTokenService
from application.ports.identity import RefreshTokenRecord
from application.use_cases.auth.common import AuthPolicy, TokenPair, hash_token, open_session
from application.use_cases.auth.refresh import RefreshCommand, RefreshSession
from domain.contacts import Contact, ContactAlreadyExists
from domain.identity import EmailAlreadyRegistered
from tests.conftest import _plain
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration


def _contact(org, whatsapp_id: str, name: str | None = None, email: str | None = None) -> Contact:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    return Contact(id=uuid4(), organization_id=org, whatsapp_id=whatsapp_id, name=name, email=email,
                   created_at=now, updated_at=now)


async def test_duplicate_email_in_any_case_is_refused(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow_factory)
    other_org, _ = await make_org(uow_factory)
    twin = user.with_changes(id=uuid4(), organization_id=other_org, email=user.email.upper())
    async with uow_factory(other_org) as uow:
        with pytest.raises(EmailAlreadyRegistered):
            await uow.users.add(twin)


async def test_contacts_are_scoped_and_unique_per_organization(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org_a, _ = await make_org(uow_factory)
    org_b, _ = await make_org(uow_factory)
    async with uow_factory(org_a) as uow:
        await uow.contacts.add(_contact(org_a, "5511911110000", "Maria Silva", "maria@example.com"))
        await uow.commit()
    async with uow_factory(org_b) as uow:
        await uow.contacts.add(_contact(org_b, "5511911110000", "Other"))  # same number, other org: fine
        await uow.commit()
    async with uow_factory(org_a) as uow:
        with pytest.raises(ContactAlreadyExists):
            await uow.contacts.add(_contact(org_a, "5511911110000"))
    async with uow_factory(org_a) as uow:
        found, total = await uow.contacts.search(query="MARIA@", limit=10, offset=0)
        assert total == 1 and found[0].name == "Maria Silva"
        none, zero = await uow.contacts.search(query="Other", limit=10, offset=0)
        assert (none, zero) == ([], 0)
        percent, _ = await uow.contacts.search(query="%", limit=10, offset=0)
        assert percent == []  # LIKE metacharacters are literal


async def test_rolled_back_unit_of_work_leaves_no_row_and_no_job(uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                                 database_url: str) -> None:
    org, _ = await make_org(uow_factory)
    marker = f"job-{uuid4().hex}"
    async with uow_factory(org) as uow:
        await uow.contacts.add(_contact(org, "5511922220000"))
        await uow.jobs.enqueue("send_email", {"to": "x@example.com"}, dedupe_key=marker)
        # no commit
    async with uow_factory(org) as uow:
        assert await uow.contacts.get_by_whatsapp_id("5511922220000") is None
    connection = await asyncpg.connect(_plain(database_url))
    try:
        assert await connection.fetchval("SELECT count(*) FROM pgqueuer WHERE dedupe_key = $1", marker) == 0
    finally:
        await connection.close()
    async with uow_factory(org) as uow:
        assert await uow.jobs.enqueue("send_email", {"to": "x@example.com"}, dedupe_key=marker) is True
        assert await uow.jobs.enqueue("send_email", {"to": "x@example.com"}, dedupe_key=marker) is False
        await uow.commit()
    connection = await asyncpg.connect(_plain(database_url))
    try:
        assert await connection.fetchval("SELECT count(*) FROM pgqueuer WHERE dedupe_key = $1", marker) == 1
    finally:
        await connection.close()


async def _refresh_concurrently(uow_factory: SqlAlchemyUnitOfWorkFactory, token: str, times: int) -> list[object]:
    use_case = RefreshSession(uow=uow_factory, tokens=JwtAccessTokenService(secret="s" * 40), clock=SystemClock(),
                              policy=AuthPolicy())
    return await asyncio.gather(*(use_case.execute(RefreshCommand(refresh_token=token)) for _ in range(times)),
                                return_exceptions=True)


async def _signed_in(uow_factory: SqlAlchemyUnitOfWorkFactory) -> tuple[str, UUID]:
    org, user = await make_org(uow_factory)
    async with uow_factory(org) as uow:
        pair = await open_session(uow, JwtAccessTokenService(secret="s" * 40), user, datetime.now(UTC), AuthPolicy())
        await uow.commit()
    record = await _token_record(uow_factory, pair.refresh_token)
    return pair.refresh_token, record.session_id


async def _token_record(uow_factory: SqlAlchemyUnitOfWorkFactory, token: str) -> RefreshTokenRecord:
    async with uow_factory() as uow:
        record = await uow.sessions.find_refresh_token(hash_token(token))
    assert record is not None
    return record


async def test_concurrent_refreshes_with_a_login_token_all_work_and_leave_one_pending_child(
        uow_factory: SqlAlchemyUnitOfWorkFactory, database_url: str) -> None:
    login_token, session_id = await _signed_in(uow_factory)

    results = await _refresh_concurrently(uow_factory, login_token, 6)

    assert all(isinstance(r, TokenPair) for r in results), results
    connection = await asyncpg.connect(_plain(database_url))
    try:
        rows = await connection.fetch("SELECT parent_id, used_at FROM refresh_tokens WHERE session_id = $1",
                                      session_id)
    finally:
        await connection.close()
    assert sorted((r["parent_id"] is None, r["used_at"] is None) for r in rows) == [(False, True), (True, False)]


async def test_concurrent_refreshes_with_the_current_token_of_a_strict_family_let_one_through_and_revoke_it(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    login_token, session_id = await _signed_in(uow_factory)
    (child,) = await _refresh_concurrently(uow_factory, login_token, 1)
    assert isinstance(child, TokenPair)
    (current,) = await _refresh_concurrently(uow_factory, child.refresh_token, 1)  # strict from here on
    assert isinstance(current, TokenPair)

    results = await _refresh_concurrently(uow_factory, current.refresh_token, 6)

    outcomes = sorted(type(r).__name__ for r in results)
    assert outcomes == ["InvalidToken"] * 4 + ["RefreshTokenReused", "TokenPair"]  # later ones find it revoked
    assert (await _token_record(uow_factory, login_token)).revoked_at is not None


async def test_throttle_counts_every_concurrent_failure(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    key = f"login:email:{uuid4().hex}@example.com"
    now = datetime.now(UTC)

    async def fail() -> None:
        async with uow_factory() as uow:
            await uow.login_throttle.record_failure(key, now, limit=1000, window_seconds=900)
            await uow.commit()

    await asyncio.gather(*(fail() for _ in range(20)))
    async with uow_factory() as uow:
        assert await uow.login_throttle.count_hit(key, now, limit=21, window_seconds=900) == 0
        assert await uow.login_throttle.count_hit(key, now, limit=21, window_seconds=900) == 900
        later = now + timedelta(seconds=899.5)
        assert await uow.login_throttle.count_hit(key, later, limit=21, window_seconds=900) == 1
        assert await uow.login_throttle.blocked_for(key, now) == 0
        await uow.login_throttle.record_failure(key, now, limit=5, window_seconds=900)
        assert await uow.login_throttle.blocked_for(key, now) > 0


async def test_get_or_add_lets_two_racing_transactions_share_one_new_contact(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    """Two webhooks from a new number processed at once: both get the same contact, neither fails."""
    org, _ = await make_org(uow_factory)
    first_inserted, release = asyncio.Event(), asyncio.Event()

    async def first() -> Contact:
        async with uow_factory(org) as uow:
            contact = await uow.contacts.get_or_add(_contact(org, "5511933330000", "First"))
            first_inserted.set()
            await release.wait()  # the second transaction is now blocked on our uncommitted row
            await uow.commit()
            return contact

    async def second() -> Contact:
        await first_inserted.wait()
        async with uow_factory(org) as uow:
            assert await uow.contacts.get_by_whatsapp_id("5511933330000") is None  # not committed yet
            racing = asyncio.create_task(uow.contacts.get_or_add(_contact(org, "5511933330000", "Second")))
            await asyncio.sleep(0.3)
            assert not racing.done()  # waits for the first transaction instead of failing
            release.set()
            contact = await racing
            await uow.commit()
            return contact

    a, b = await asyncio.gather(first(), second())
    assert a.id == b.id and b.name == "First"
    async with uow_factory(org) as uow:
        found, total = await uow.contacts.search(query="5511933330000", limit=10, offset=0)
    assert total == 1 and found[0].id == a.id
