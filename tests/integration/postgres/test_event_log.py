"""The event log and stream tickets against PostgreSQL: events exist only with their transaction, ids follow
commit order within an organization, one NOTIFY per organization and commit, row-level security, the purge
watermark, single-use tickets under concurrency, and the hub's fan-out (a slow stream is dropped alone)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from adapters.postgres.database import asyncpg_dsn
from adapters.postgres.event_listener import AsyncpgEventNotifications
from adapters.postgres.repositories.events import EVENTS_CHANNEL
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.events import EventTicket
from application.use_cases.events.hub import EventHub
from domain.events import EventType
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration


async def append(factory: SqlAlchemyUnitOfWorkFactory, org: UUID, n: int, *, commit: bool = True) -> None:
    async with factory(org) as uow:
        for i in range(n):
            uow.events.append(EventType.MESSAGE_STATUS, {"n": i})
        if commit:
            await uow.commit()


async def ids_of(factory: SqlAlchemyUnitOfWorkFactory, org: UUID) -> list[int]:
    async with factory(org) as uow:
        return [e.id for e in await uow.events.after(org, 0, 10_000)]


async def test_events_commit_with_their_transaction_in_one_notify_per_organization(
        uow_factory: SqlAlchemyUnitOfWorkFactory, database_url: str) -> None:
    org, _ = await make_org(uow_factory)
    heard: list[str] = []
    listener = await asyncpg.connect(asyncpg_dsn(database_url))
    await listener.add_listener(EVENTS_CHANNEL, lambda *args: heard.append(args[3]))
    try:
        await append(uow_factory, org, 3, commit=False)  # rolled back: nothing, not even a notification
        await append(uow_factory, org, 1000)
        await asyncio.sleep(0.3)
        ids = await ids_of(uow_factory, org)
        assert len(ids) == 1000 and ids == sorted(ids)
        assert heard == [f"{org}:{ids[-1]}"]
    finally:
        await listener.close()


async def test_ids_of_an_organization_follow_commit_order(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    """A transaction that appended first but commits last still gets the larger ids: a reader that saw id N
    never later finds a smaller one."""
    org, _ = await make_org(uow_factory)
    seen: list[int] = []

    async def slow_writer(started: asyncio.Event, go: asyncio.Event) -> None:
        async with uow_factory(org) as uow:
            uow.events.append(EventType.MESSAGE_STATUS, {"who": "slow"})
            await uow.contacts.get_many([])  # the transaction is open
            started.set()
            await go.wait()
            await uow.commit()

    started, go = asyncio.Event(), asyncio.Event()
    slow = asyncio.create_task(slow_writer(started, go))
    await started.wait()
    await append(uow_factory, org, 2)
    seen += await ids_of(uow_factory, org)
    go.set()
    await slow
    after = await ids_of(uow_factory, org)
    assert after[:2] == seen and after[2] > max(seen)


async def test_a_tenant_reads_only_its_own_events(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    a, _ = await make_org(uow_factory)
    b, _ = await make_org(uow_factory)
    await append(uow_factory, a, 2)
    async with uow_factory(b) as uow:
        assert await uow.events.after(a, 0, 10) == [] and await uow.events.latest_id(a) == 0
        with pytest.raises(Exception, match="row-level security|violates"):
            uow.events.append(EventType.MESSAGE_STATUS, {}, organization_id=a)
            await uow.commit()


async def test_the_purge_remembers_the_highest_deleted_id_per_organization(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    a, _ = await make_org(uow_factory)
    await append(uow_factory, a, 3)
    ids = await ids_of(uow_factory, a)
    async with uow_factory() as uow:
        deleted = await uow.events.purge(datetime.now(UTC) + timedelta(seconds=1), 1_000_000)
        await uow.commit()
    assert deleted >= 3
    async with uow_factory(a) as uow:
        assert await uow.events.purged_through(a) == ids[-1] and await uow.events.after(a, 0, 10) == []


async def test_a_ticket_is_spent_by_exactly_one_of_concurrent_redeemers(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow_factory)
    now = datetime.now(UTC)
    async with uow_factory(org) as uow:
        await uow.event_tickets.add(EventTicket(token_hash="h" * 64, organization_id=org, user_id=user.id,
                                                created_at=now, expires_at=now + timedelta(seconds=60)))
        await uow.commit()

    async def redeem() -> EventTicket | None:
        async with uow_factory() as uow:
            found = await uow.event_tickets.consume("h" * 64, datetime.now(UTC))
            await uow.commit()
            return found

    results = await asyncio.gather(*(redeem() for _ in range(5)))
    assert sum(r is not None for r in results) == 1


async def test_the_hub_fans_out_and_drops_only_the_slow_stream(
        uow_factory: SqlAlchemyUnitOfWorkFactory, database_url: str) -> None:
    org, _ = await make_org(uow_factory)
    other, _ = await make_org(uow_factory)
    hub = EventHub(uow=uow_factory, notifications=AsyncpgEventNotifications(asyncpg_dsn(database_url)),
                   queue_size=50)
    running = asyncio.create_task(hub.run())
    try:
        slow, fast, elsewhere = (await hub.subscribe(org), await hub.subscribe(org), await hub.subscribe(other))
        await asyncio.sleep(0.3)  # the listener is connected
        got: list[int] = []

        async def read_fast() -> None:
            while len(got) < 200:
                event = await fast.queue.get()
                assert event is not None
                got.append(event.id)

        reader = asyncio.create_task(read_fast())
        for _ in range(20):
            await append(uow_factory, org, 10)
        await asyncio.wait_for(reader, 15)
        assert got == sorted(got) and len(set(got)) == 200
        assert slow.dropped and not fast.ended and hub.dropped == 1
        assert elsewhere.queue.empty()  # another organization's stream saw nothing
        hub.close()
        assert fast.closed and (await fast.queue.get()) is None
    finally:
        hub.close()
        await asyncio.wait_for(running, 10)
