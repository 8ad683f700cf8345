"""The API process's one LISTEN connection for live events (``pytake_events``), reconnected when it drops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from uuid import UUID

from adapters.postgres.listening import listen_on
from adapters.postgres.repositories.events import EVENTS_CHANNEL
from application.ports.events import EventNotifications


class AsyncpgEventNotifications(EventNotifications):
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    async def listen(self, on_event: Callable[[UUID, int], None], on_connected: Callable[[], None],
                     stop: asyncio.Event) -> None:
        def received(payload: str) -> None:
            organization_id, _, event_id = payload.partition(":")
            with contextlib.suppress(ValueError):
                on_event(UUID(organization_id), int(event_id))

        # whatever was committed while nobody listened is read by on_connected
        await listen_on(self._dsn, EVENTS_CHANNEL, received, stop, on_connected=on_connected)
