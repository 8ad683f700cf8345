"""One client's stream of its organization's live events: what it missed first (from ``Last-Event-ID``),
then what happens, with a heartbeat while nothing does.

A resume point the retention already deleted (or one this organization never had) gets a ``reset`` instead:
the client refetches what it shows, then follows the stream from the current position.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from application.ports.events import StoredEvent
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.events.common import Listener
from application.use_cases.events.hub import EventHub, Subscription

REPLAY_BATCH = 500


@dataclass(frozen=True, slots=True)
class Heartbeat:
    pass


@dataclass(frozen=True, slots=True)
class Reset:
    """Refetch, then go on from ``id``."""

    id: int


StreamItem = StoredEvent | Reset | Heartbeat


class OpenedStream:
    """The items of one stream; ``dropped`` is set when the client fell too far behind: its connection may be
    stuck writing (a client that stopped reading), so the server should close it rather than wait."""

    def __init__(self, items: AsyncGenerator[StreamItem, None], dropped: asyncio.Event) -> None:
        self._items, self.dropped = items, dropped

    def __aiter__(self) -> OpenedStream:
        return self

    async def __anext__(self) -> StreamItem:
        return await self._items.__anext__()

    async def aclose(self) -> None:
        await self._items.aclose()


class StreamEvents:
    def __init__(self, *, uow: UnitOfWorkFactory, hub: EventHub, heartbeat_seconds: float = 15.0,
                 replay_batch: int = REPLAY_BATCH) -> None:
        self._uow, self._hub = uow, hub
        self._heartbeat, self._batch = heartbeat_seconds, replay_batch

    async def open(self, listener: Listener, last_event_id: int | None) -> OpenedStream:
        """Subscribes now (so nothing committed from here on is missed), then yields. Ends when the process
        shuts down or the client fell too far behind (it reconnects with ``Last-Event-ID``)."""
        sub = await self._hub.subscribe(listener.organization_id)
        return OpenedStream(self._items(sub, last_event_id), sub.dropped_event)

    async def _items(self, sub: Subscription, last_event_id: int | None) -> AsyncGenerator[StreamItem, None]:
        try:
            last = sub.start_id
            if last_event_id is not None and last_event_id != sub.start_id:
                async with self._uow(sub.organization_id) as uow:
                    purged = await uow.events.purged_through(sub.organization_id)
                    latest = await uow.events.latest_id(sub.organization_id)
                if last_event_id < purged or last_event_id > max(latest, sub.start_id, purged):
                    last = max(sub.start_id, purged)  # resuming from here never asks for a reset again
                    yield Reset(id=last)
                else:
                    last = last_event_id
                    async for event in self._replay(sub, last):
                        yield event
                        last = event.id
            while not sub.ended:
                item = await self._next(sub)
                if item is None:
                    break
                if isinstance(item, Heartbeat):
                    yield item
                elif item.id > last:
                    yield item
                    last = item.id
        finally:
            self._hub.unsubscribe(sub)

    async def _replay(self, sub: Subscription, after: int) -> AsyncIterator[StoredEvent]:
        while not sub.ended:
            async with self._uow(sub.organization_id) as uow:
                rows = await uow.events.after(sub.organization_id, after, self._batch)
            for event in rows:
                yield event
                after = event.id
            if len(rows) < self._batch:
                return

    async def _next(self, sub: Subscription) -> StoredEvent | Heartbeat | None:
        if sub.ended:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(sub.queue.get(), self._heartbeat)
        return Heartbeat()
