"""The API process's one LISTEN connection for live events (``pytake_events``), reconnected when it drops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from uuid import UUID

import asyncpg

from adapters.postgres.repositories.events import EVENTS_CHANNEL
from application.ports.events import EventNotifications

RECONNECT_SECONDS = 0.5


class AsyncpgEventNotifications(EventNotifications):
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    async def listen(self, on_event: Callable[[UUID, int], None], on_connected: Callable[[], None],
                     stop: asyncio.Event) -> None:
        def received(_connection: object, _pid: int, _channel: str, payload: str) -> None:
            organization_id, _, event_id = payload.partition(":")
            with contextlib.suppress(ValueError):
                on_event(UUID(organization_id), int(event_id))

        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await _pause(stop, RECONNECT_SECONDS)
                continue
            try:
                await connection.add_listener(EVENTS_CHANNEL, received)
                on_connected()  # whatever was committed while nobody listened is read now
                while not stop.is_set() and not connection.is_closed():
                    await _pause(stop, RECONNECT_SECONDS)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
