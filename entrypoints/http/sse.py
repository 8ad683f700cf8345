"""Server-Sent Events framing of the live event stream, and the end of every stream when the server stops.

uvicorn waits for open responses to finish before it runs the application's shutdown, and an event stream
never finishes on its own: :func:`end_streams_on_server_exit` chains the server's signal handlers so the streams
end first (each client reconnects, to another replica or to this one restarted, with ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from application.ports.events import StoredEvent
from application.use_cases.events.stream import Heartbeat, OpenedStream, Reset, StreamItem
from domain.events import RESET

RETRY_MILLISECONDS = 3000

def frame(item: StreamItem) -> bytes:
    if isinstance(item, Heartbeat):
        return b": heartbeat\n\n"
    if isinstance(item, Reset):
        return f"id: {item.id}\nevent: {RESET}\ndata: {json.dumps({'id': item.id})}\n\n".encode()
    assert isinstance(item, StoredEvent)
    data = json.dumps(item.payload, separators=(",", ":"), default=str)
    return f"id: {item.id}\nevent: {item.type}\ndata: {data}\n\n".encode()


async def sse_body(items: OpenedStream) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MILLISECONDS}\n: connected\n\n".encode()
    try:
        async for item in items:
            yield frame(item)
    finally:
        await items.aclose()


class EventStreamResponse(StreamingResponse):
    """``text/event-stream``; closes the connection at once when its stream is dropped as too slow (a client
    that stopped reading leaves the response stuck in a write that would never finish)."""

    media_type = "text/event-stream"

    def __init__(self, stream: OpenedStream, headers: dict[str, str]) -> None:
        super().__init__(sse_body(stream), headers=headers)
        self._dropped = stream.dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:
            async def close_when_dropped() -> None:
                await self._dropped.wait()
                group.cancel_scope.cancel()

            group.start_soon(close_when_dropped)
            await super().__call__(scope, receive, send)
            group.cancel_scope.cancel()


def end_streams_on_server_exit(callback: Callable[[], None]) -> Callable[[], None]:
    """Run ``callback`` (in the event loop) when the server is told to stop (SIGINT, SIGTERM), before its own
    handler (uvicorn's, installed before the application starts); returns the undo. Only the main thread can
    handle signals: elsewhere (an embedded server) nothing is chained and the caller ends the streams itself."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    chained: dict[int, Any] = {}

    def handler(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(callback)
        previous = chained.get(sig)
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL and sig == signal.SIGINT:  # pragma: no cover - no server handler
            raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        chained[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)

    def undo() -> None:
        for sig, previous in chained.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo
