"""The hub and one client's stream on the fakes: live events in order, replay from Last-Event-ID, reset past
the retention, heartbeats, a slow stream dropped alone, and every stream ended on shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from uuid import UUID, uuid4

import pytest

from application.ports.events import EventNotifications, StoredEvent
from application.use_cases.events.common import Listener
from application.use_cases.events.stream import Heartbeat, Reset, StreamItem
from domain.events import EventStreamsClosing, EventType
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeUnitOfWorkFactory

pytestmark = pytest.mark.unit

ORG, OTHER = uuid4(), uuid4()


class ManualNotifications(EventNotifications):
    """The test plays PostgreSQL: ``commit`` appends and notifies."""

    def __init__(self) -> None:
        self.on_event: Callable[[UUID, int], None] | None = None

    async def listen(self, on_event: Callable[[UUID, int], None], on_connected: Callable[[], None],
                     stop: asyncio.Event) -> None:
        self.on_event = on_event
        on_connected()
        await stop.wait()


class Setup:
    def __init__(self, queue_size: int = 100) -> None:
        self.factory = FakeUnitOfWorkFactory()
        self.notifications = ManualNotifications()
        app = bootstrap_test_app(uow=self.factory, event_notifications=self.notifications,
                                 events_queue_size=queue_size, events_heartbeat_seconds=0.05)
        self.hub = app.event_hub
        self.streams = app.stream_events

    async def commit(self, org: UUID, n: int = 1) -> int:
        async with self.factory(org) as uow:
            for i in range(n):
                uow.events.append(EventType.MESSAGE_STATUS, {"i": i})
            await uow.commit()
        latest = self.factory.store.event_seq
        if self.notifications.on_event is not None:
            self.notifications.on_event(org, latest)
        return latest


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    s = Setup()
    running = asyncio.create_task(s.hub.run())
    await asyncio.sleep(0)
    yield s
    s.hub.close()
    await asyncio.wait_for(running, 5)


async def take(items: AsyncIterator[StreamItem], count: int, *, heartbeats: bool = False) -> list[StreamItem]:
    got: list[StreamItem] = []
    while len(got) < count:
        item = await asyncio.wait_for(anext(items), 5)
        if heartbeats or not isinstance(item, Heartbeat):
            got.append(item)
    return got


async def test_live_events_arrive_in_order_and_only_of_the_organization(setup: Setup) -> None:
    items = await setup.streams.open(Listener(ORG, uuid4()), None)
    await setup.commit(OTHER, 2)
    last = await setup.commit(ORG, 3)
    got = await take(items, 3)
    assert [e.id for e in got if isinstance(e, StoredEvent)] == [last - 2, last - 1, last]
    assert all(isinstance(e, StoredEvent) and e.organization_id == ORG for e in got)
    assert isinstance((await take(items, 1, heartbeats=True))[0], Heartbeat)  # nothing happens: a heartbeat
    await items.aclose()
    assert setup.hub.streams == 0


async def test_replay_from_last_event_id_then_live_without_duplicates(setup: Setup) -> None:
    first = await setup.commit(ORG)
    await setup.commit(ORG, 2)
    items = await setup.streams.open(Listener(ORG, uuid4()), first)
    live = await setup.commit(ORG)
    got = await take(items, 3)
    assert [e.id for e in got if isinstance(e, StoredEvent)] == [first + 1, first + 2, live]


async def test_a_resume_point_past_the_retention_or_unknown_gets_a_reset(setup: Setup) -> None:
    await setup.commit(ORG, 2)
    setup.factory.store.event_purged[ORG] = 2
    items = await setup.streams.open(Listener(ORG, uuid4()), 1)
    [reset] = await take(items, 1)
    assert isinstance(reset, Reset) and reset.id == 2
    items = await setup.streams.open(Listener(ORG, uuid4()), 10**9)
    assert isinstance((await take(items, 1))[0], Reset)


async def test_a_slow_stream_is_dropped_alone() -> None:
    s = Setup(queue_size=3)
    running = asyncio.create_task(s.hub.run())
    try:
        slow = await s.hub.subscribe(ORG)
        fast = await s.streams.open(Listener(ORG, uuid4()), None)
        got: list[StreamItem] = []
        for _ in range(10):
            await s.commit(ORG)
            got += await take(fast, 1)
        assert slow.dropped and s.hub.dropped == 1 and len(got) == 10
    finally:
        s.hub.close()
        await asyncio.wait_for(running, 5)


async def test_shutdown_ends_every_stream_and_refuses_new_ones(setup: Setup) -> None:
    items = await setup.streams.open(Listener(ORG, uuid4()), None)
    setup.hub.close()
    with pytest.raises(StopAsyncIteration):
        while True:
            item = await asyncio.wait_for(anext(items), 5)
            assert isinstance(item, Heartbeat)
    with pytest.raises(EventStreamsClosing):
        await setup.streams.open(Listener(ORG, uuid4()), None)
