"""Helpers for the live event suites: the test app served by a real uvicorn (an SSE stream needs a socket: the
ASGI transport buffers whole responses), and a listening SSE client (httpx-sse) that collects what arrives."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from httpx_sse import ServerSentEvent, aconnect_sse

from entrypoints.http.app import wire

API = "/api/v1"


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` (its lifespan already running) on a free local port; yields the base URL."""
    wire(app.state.container)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", timeout_graceful_shutdown=3))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@dataclass
class Listening:
    """An open stream: every event that arrived, in order (``reset`` included)."""

    response: httpx.Response
    seen: list[ServerSentEvent] = field(default_factory=list)
    ended: bool = False
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [json.loads(e.data) for e in self.seen if e.event == kind]

    @property
    def ids(self) -> list[int]:
        return [int(e.id) for e in self.seen if e.id]

    async def wait_for(self, predicate: Callable[[ServerSentEvent], bool], timeout: float = 15.0
                       ) -> ServerSentEvent:
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for event in self.seen[checked:]:
                if predicate(event):
                    return event
            checked = len(self.seen)
            left = deadline - time.monotonic()
            if left <= 0 or self.ended:
                raise AssertionError(f"no such event among {[(e.id, e.event, e.data) for e in self.seen]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(left, 0.5))

    async def event(self, kind: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """The first event of type ``kind`` whose data has ``fields``."""
        def matches(e: ServerSentEvent) -> bool:
            if e.event != kind:
                return False
            data = json.loads(e.data)
            return all(data.get(k) == v for k, v in fields.items())
        found = await self.wait_for(matches, timeout)
        return {"id": int(found.id), **json.loads(found.data)}


@asynccontextmanager
async def listen(base: str, *, ticket: str | None = None, token: str | None = None,
                 last_event_id: int | None = None, query_last_event_id: int | None = None) -> AsyncIterator[Listening]:
    params: dict[str, str] = {}
    headers: dict[str, str] = {}
    if ticket is not None:
        params["ticket"] = ticket
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    if query_last_event_id is not None:
        params["last_event_id"] = str(query_last_event_id)
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(10.0, read=None)) as client, \
            aconnect_sse(client, "GET", f"{API}/events", params=params, headers=headers) as source:
        assert source.response.status_code == 200, (await source.response.aread()).decode()
        assert source.response.headers["content-type"].startswith("text/event-stream")
        listening = Listening(source.response)

        async def pump() -> None:
            try:
                async for event in source.aiter_sse():
                    if event.event == "message" and not event.data and not event.id:
                        continue  # the opening 'retry:' field, not an event
                    listening.seen.append(event)
                    listening._arrived.set()
            except httpx.HTTPError:
                pass
            finally:
                listening.ended = True
                listening._arrived.set()

        task = asyncio.create_task(pump())
        await asyncio.sleep(0.05)
        try:
            yield listening
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def ticket(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await client.post(f"{API}/events/ticket", headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["ticket"])
