"""One LISTEN connection kept open: connected again after a drop, told to its owner each time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

RECONNECT_SECONDS = 0.5


async def listen_on(dsn: str, channel: str, on_payload: Callable[[str], None], stop: asyncio.Event, *,
                    on_connected: Callable[[], None], on_lost: Callable[[], None] | None = None) -> None:
    """LISTEN ``channel`` until ``stop``: ``on_payload`` per notification, ``on_connected`` once listening (each
    time: what was committed while nobody listened is the owner's to catch up on), ``on_lost`` as soon as the
    connection drops or the loop ends."""
    while not stop.is_set():
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            await pause(stop, RECONNECT_SECONDS)
            continue
        try:
            await connection.add_listener(channel, lambda _connection, _pid, _channel, payload: on_payload(payload))
            if on_lost is not None:
                connection.add_termination_listener(lambda _connection: on_lost())
            on_connected()
            while not stop.is_set() and not connection.is_closed():
                await pause(stop, RECONNECT_SECONDS)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        finally:
            if on_lost is not None:
                on_lost()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
