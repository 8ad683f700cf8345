"""The fan-out of live events inside one API process.

One listening connection per process (``EventNotifications``) says which organization has new events; the
hub reads the new rows of every such organization that has streams open here in one statement per batch
(its cursor per organization only moves forward) and puts each event in the bounded queue of each of that
organization's streams. A stream whose queue is full is dropped (its client reconnects with
``Last-Event-ID`` and misses nothing): a slow client never holds the others back.
"""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

import structlog

from application.ports.events import EventNotifications, StoredEvent
from application.ports.uow import UnitOfWorkFactory
from domain.events import EventStreamsClosing

log = structlog.get_logger("pytake.events")

READ_BATCH = 500
RETRY_SECONDS = 0.5


class Subscription:
    """One open stream's queue. ``start_id``: the hub's position for the organization when it subscribed
    (everything above it reaches the queue); ``dropped``: it fell behind and was let go; ``closed``: the
    process is shutting down."""

    def __init__(self, organization_id: UUID, size: int) -> None:
        self.organization_id = organization_id
        self.queue: asyncio.Queue[StoredEvent | None] = asyncio.Queue(maxsize=size)
        self.start_id = 0
        self.dropped = False
        self.closed = False
        self.dropped_event = asyncio.Event()  # the connection may be stuck writing: its server closes it

    def offer(self, event: StoredEvent) -> bool:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped = True
            self.dropped_event.set()
            return False
        return True

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    @property
    def ended(self) -> bool:
        return self.dropped or self.closed


class EventHub:
    def __init__(self, *, uow: UnitOfWorkFactory, notifications: EventNotifications, queue_size: int = 1000,
                 read_batch: int = READ_BATCH) -> None:
        self._uow, self._notifications = uow, notifications
        # a round never fills a queue by itself: a stream that keeps up is never dropped for a burst
        self._queue_size, self._batch = queue_size, max(1, min(read_batch, queue_size // 2))
        self._subs: dict[UUID, set[Subscription]] = {}
        self._cursors: dict[UUID, int] = {}
        self._dirty: set[UUID] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.dropped = 0

    @property
    def streams(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def subscribe(self, organization_id: UUID) -> Subscription:
        if self._stop.is_set():
            raise EventStreamsClosing()
        sub = Subscription(organization_id, self._queue_size)
        self._subs.setdefault(organization_id, set()).add(sub)
        if organization_id not in self._cursors:
            try:
                async with self._uow(organization_id) as uow:
                    latest = await uow.events.latest_id(organization_id)
            except BaseException:
                self.unsubscribe(sub)
                raise
            self._cursors[organization_id] = max(latest, self._cursors.get(organization_id, 0))
            self._poke(organization_id)  # a notification that came while the cursor was unknown waits for it
        sub.start_id = self._cursors[organization_id]
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.organization_id)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.organization_id]
            self._cursors.pop(sub.organization_id, None)
            self._dirty.discard(sub.organization_id)

    def notify(self, organization_id: UUID, event_id: int) -> None:
        """A NOTIFY: the organization has events up to ``event_id``."""
        if organization_id in self._subs and event_id > self._cursors.get(organization_id, -1):
            self._poke(organization_id)

    def resync(self) -> None:
        """The listener (re)connected: notifications may have been lost, look at every organization."""
        for organization_id in self._subs:
            self._poke(organization_id)

    def _poke(self, organization_id: UUID) -> None:
        self._dirty.add(organization_id)
        self._wake.set()

    async def run(self) -> None:
        """Listen and fan out until :meth:`close`."""
        listener = asyncio.create_task(self._notifications.listen(self.notify, self.resync, self._stop))
        try:
            while not self._stop.is_set():
                await self._wake.wait()
                self._wake.clear()
                if not self._stop.is_set():
                    await self._read_round()
        finally:
            self._stop.set()
            await asyncio.gather(listener, return_exceptions=True)

    async def _read_round(self) -> None:
        orgs = {o for o in self._dirty if o in self._subs and o in self._cursors}
        if not orgs:
            return
        self._dirty -= orgs
        cursors = {o: self._cursors[o] for o in orgs}
        try:
            async with self._uow() as uow:
                rows = await uow.events.after_many(cursors, self._batch)
        except Exception as error:  # noqa: BLE001 - the database is away: try again shortly, streams stay open
            log.warning("events.read_failed", error_type=type(error).__name__)
            self._dirty |= orgs
            await asyncio.sleep(RETRY_SECONDS)
            self._wake.set()
            return
        counts: dict[UUID, int] = {}
        for event in rows:
            org = event.organization_id
            counts[org] = counts.get(org, 0) + 1
            if org not in self._cursors or event.id <= self._cursors[org]:
                continue
            self._cursors[org] = event.id
            for sub in list(self._subs.get(org, ())):
                if not sub.offer(event):
                    self.unsubscribe(sub)
                    self.dropped += 1
                    log.info("events.slow_stream_dropped", organization_id=str(org))
        for org, count in counts.items():
            if count >= self._batch:  # more where these came from
                self._poke(org)

    def close(self) -> None:
        """Shutdown: every stream ends (its client reconnects elsewhere with Last-Event-ID), no new one opens."""
        self._stop.set()
        self._wake.set()
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()
        self._subs.clear()
        self._cursors.clear()
