"""Server-Sent Events framing of the live event stream, and the end of every stream when the server stops.

uvicorn waits for open responses to finish before it runs the application's shutdown, and an event stream
never finishes on its own: :func:`end_streams_on_server_exit` chains uvicorn's exit handler so the streams end
first (each client reconnects, to another replica or to this one restarted, with ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from application.ports.events import StoredEvent
from application.use_cases.events.stream import Heartbeat, Reset, StreamItem
from domain.events import RESET

RETRY_MILLISECONDS = 3000

_exit_callbacks: list[Callable[[], None]] = []


def frame(item: StreamItem) -> bytes:
    if isinstance(item, Heartbeat):
        return b": heartbeat\n\n"
    if isinstance(item, Reset):
        return f"id: {item.id}\nevent: {RESET}\ndata: {json.dumps({'id': item.id})}\n\n".encode()
    assert isinstance(item, StoredEvent)
    data = json.dumps(item.payload, separators=(",", ":"), default=str)
    return f"id: {item.id}\nevent: {item.type}\ndata: {data}\n\n".encode()


async def sse_body(items: AsyncIterator[StreamItem]) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
    try:
        async for item in items:
            yield frame(item)
    finally:
        close = getattr(items, "aclose", None)
        if close is not None:
            await close()


def end_streams_on_server_exit(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` (in the event loop) when uvicorn is told to exit; returns the undo."""
    loop = asyncio.get_running_loop()

    def in_loop() -> None:
        loop.call_soon_threadsafe(callback)

    _exit_callbacks.append(in_loop)
    _chain_uvicorn()
    return lambda: _exit_callbacks.remove(in_loop) if in_loop in _exit_callbacks else None


def _chain_uvicorn() -> None:
    try:
        from uvicorn.server import Server
    except ImportError:  # pragma: no cover - another ASGI server: its shutdown ends the streams its own way
        return
    original = Server.handle_exit
    if getattr(original, "_pytake_chained", False):
        return

    def handle_exit(self: Any, sig: int, frame: Any) -> None:
        for callback in list(_exit_callbacks):
            callback()
        original(self, sig, frame)

    handle_exit._pytake_chained = True  # type: ignore[attr-defined]
    Server.handle_exit = handle_exit  # type: ignore[method-assign]
