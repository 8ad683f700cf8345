"""The fakes themselves: a unit of work that really rolls back, and the adapters' arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from application.errors import InvalidToken
from domain.contacts import Contact
from domain.identity import Organization, Role
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import FakeClock, FakeJobQueue, FakePasswordHasher
from tests.unit.conftest import UseCases


def _org(name: str = "Acme") -> Organization:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Organization(id=uuid4(), name=name, created_at=now, updated_at=now)


async def test_nothing_is_kept_without_commit() -> None:
    factory = FakeUnitOfWorkFactory()
    organization = _org()
    async with factory(organization.id) as uow:
        await uow.organizations.add(organization)
        assert await uow.organizations.get(organization.id) == organization  # visible inside
    assert factory.store.organizations == {}
    assert factory.commits == 0


async def test_commit_applies_and_later_writes_are_dropped_on_an_exception() -> None:
    factory = FakeUnitOfWorkFactory()
    first, second = _org("first"), _org("second")
    with pytest.raises(ZeroDivisionError):
        async with factory() as uow:
            await uow.organizations.add(first)
            await uow.commit()
            await uow.organizations.add(second)
            _ = 1 / 0
    assert set(factory.store.organizations) == {first.id}
    assert factory.commits == 1


async def test_entities_read_are_copies() -> None:
    factory = FakeUnitOfWorkFactory()
    organization = _org()
    async with factory(organization.id) as uow:
        await uow.organizations.add(organization)
        await uow.commit()
    async with factory(organization.id) as uow:
        read = await uow.organizations.get(organization.id)
        assert read is not None
        read.name = "mutated without any repository call"
        await uow.commit()
    assert factory.store.organizations[organization.id].name == "Acme"


async def test_interleaved_commits_are_refused_rather_than_lost() -> None:
    factory = FakeUnitOfWorkFactory()
    async with factory() as outer:
        async with factory() as inner:
            await inner.organizations.add(_org("inner"))
            await inner.commit()
        await outer.organizations.add(_org("outer"))
        with pytest.raises(RuntimeError, match="committed meanwhile"):
            await outer.commit()


async def test_organization_scoped_repositories_refuse_the_system_scope() -> None:
    factory = FakeUnitOfWorkFactory(FakeStore())
    async with factory() as uow:
        with pytest.raises(RuntimeError):
            await uow.contacts.search(query=None, limit=10, offset=0)
        with pytest.raises(RuntimeError):
            await uow.users.get(uuid4())


async def test_contacts_are_invisible_across_organizations(core: UseCases) -> None:
    org_a, org_b = _org("a"), _org("b")
    now = core.clock.now()
    contact = Contact(id=uuid4(), organization_id=org_a.id, whatsapp_id="5511987654321", created_at=now,
                      updated_at=now)
    async with core.uow(org_a.id) as uow:
        await uow.organizations.add(org_a)
        await uow.contacts.add(contact)
        await uow.commit()
    async with core.uow(org_b.id) as uow:
        assert await uow.contacts.get(contact.id) is None
        assert await uow.contacts.get_by_whatsapp_id("5511987654321") is None
        assert await uow.contacts.search(query=None, limit=10, offset=0) == ([], 0)
        assert await uow.contacts.delete(contact.id) is False
        assert await uow.organizations.get(org_a.id) is None  # row-level security on organizations


async def test_login_throttle_arithmetic_matches_the_sql_adapter(core: UseCases) -> None:
    now = core.clock.now()
    blocks = []
    async with core.uow() as uow:
        for attempt in range(1, 10):
            await uow.login_throttle.record_failure("k", now, limit=3, window_seconds=900)
            blocks.append(await uow.login_throttle.blocked_for("k", now))
            assert attempt == uow.work.throttle["k"].count
        assert await uow.login_throttle.blocked_for("k", now + timedelta(seconds=900)) == 0
        await uow.login_throttle.record_failure("k", now + timedelta(seconds=900), limit=3, window_seconds=900)
        assert uow.work.throttle["k"].count == 1  # a new window
        await uow.login_throttle.clear("k")
        assert await uow.login_throttle.blocked_for("k", now) == 0
        assert [await uow.login_throttle.count_hit("h", now, limit=2, window_seconds=60) for _ in range(3)] == [
            0, 0, 60]
        assert await uow.login_throttle.count_hit("h", now + timedelta(seconds=59.5), limit=2,
                                                  window_seconds=60) == 1
        assert await uow.login_throttle.count_hit("h", now + timedelta(seconds=60), limit=2, window_seconds=60) == 0
    assert blocks == [0, 0, 60, 120, 240, 480, 900, 900, 900]


async def test_job_queue_dedupe_holds_only_among_unprocessed_jobs() -> None:
    queue = FakeJobQueue()
    assert await queue.enqueue("send", {"n": 1}, dedupe_key="k") is True
    assert await queue.enqueue("send", {"n": 2}, dedupe_key="k") is False
    assert await queue.enqueue("send", {"n": 3}) is True
    assert [job.payload["n"] for job in queue.take("send")] == [1, 3]
    assert await queue.enqueue("send", {"n": 4}, dedupe_key="k", delay=timedelta(seconds=5)) is True
    assert queue.jobs[-1] == ("send", {"n": 4}, "k", timedelta(seconds=5))
    assert [job.payload["n"] for job in queue.pending()] == [4]


async def test_hasher_and_token_service(core: UseCases) -> None:
    hasher = FakePasswordHasher()
    stored = await hasher.hash("s3cret-passphrase")
    assert stored != "s3cret-passphrase"
    assert await hasher.verify(stored, "s3cret-passphrase") is True
    assert await hasher.verify(stored, "s3cret-passphrasf") is False

    organization = _org()
    async with core.uow(organization.id) as uow:
        await uow.organizations.add(organization)
        await uow.commit()
    user = await core.seed_user(organization.id, Role.AGENT)
    issued = core.tokens.issue(user=user, session_id=uuid4(), now=core.clock.now())
    assert core.tokens.decode(issued.token).user_id == user.id
    core.clock.advance(minutes=15)
    with pytest.raises(InvalidToken):
        core.tokens.decode(issued.token)
    with pytest.raises(InvalidToken):
        core.tokens.decode("not-a-token")


def test_clock_keeps_aware_utc() -> None:
    clock = FakeClock()
    before = clock.now()
    assert clock.advance(seconds=30) == before + timedelta(seconds=30)
    assert clock.now().tzinfo is not None and clock.now().utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        clock.set(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
