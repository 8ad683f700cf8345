"""Serve the fake Graph API (or any ASGI app) over real HTTP on 127.0.0.1 with an ephemeral port.

Sync fixtures::

    with FakeGraphServer.running() as fake:          # uvicorn on a background thread
        fake.add_number("106540352242922", "token-1")
        gateway = AiohttpWhatsAppGateway(session, base_url=fake.base_url, api_version="v25.0")

Async fixtures / tests::

    async with FakeGraphServer.running_async() as fake:   # uvicorn as a task on the running loop
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from tests.fake_graph import builders
from tests.fake_graph.app import create_app
from tests.fake_graph.state import FakeGraph

_START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn that never touches signal handlers (it runs inside a test process)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def _bind() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP,
    # and without it every keep-alive answer waits ~40 ms on Nagle + delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class ServedApp:
    """One ASGI app listening on 127.0.0.1:<ephemeral>; ``base_url`` is known before it starts."""

    def __init__(self, app: ASGIApp) -> None:
        self._socket = _bind()
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http="h11",
                                loop="asyncio", timeout_graceful_shutdown=1)
        self._server = _Server(config)
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name=f"served-app-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the local HTTP server did not start")
            time.sleep(0.01)

    def stop_thread(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_START_TIMEOUT)
        self._socket.close()

    async def start_task(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if self._task.done() or time.monotonic() > deadline:
                raise RuntimeError("the local HTTP server did not start")
            await asyncio.sleep(0.01)

    async def stop_task(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await asyncio.wait_for(self._task, _START_TIMEOUT)
        self._socket.close()

    @classmethod
    @contextlib.contextmanager
    def running(cls, app: ASGIApp) -> Iterator[ServedApp]:
        served = cls(app)
        served.start_in_thread()
        try:
            yield served
        finally:
            served.stop_thread()

    @classmethod
    @contextlib.asynccontextmanager
    async def running_async(cls, app: ASGIApp) -> AsyncIterator[ServedApp]:
        served = cls(app)
        await served.start_task()
        try:
            yield served
        finally:
            await served.stop_task()


class FakeGraphServer(FakeGraph):
    """The fake Graph API: state and knobs of :class:`FakeGraph` plus a real HTTP listener.

    ``base_url`` (``http://127.0.0.1:<port>``) is what ``WHATSAPP_GRAPH_URL`` points at; any
    ``/vNN.N/`` version prefix is accepted and recorded in ``requests[].path``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.app = create_app(self)
        self._served = ServedApp(self.app)
        self.base_url = self._served.base_url
        self.port = self._served.port

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[FakeGraphServer]:
        fake = cls()
        fake._served.start_in_thread()
        try:
            yield fake
        finally:
            fake._served.stop_thread()

    @classmethod
    @contextlib.asynccontextmanager
    async def running_async(cls) -> AsyncIterator[FakeGraphServer]:
        fake = cls()
        await fake._served.start_task()
        try:
            yield fake
        finally:
            await fake._served.stop_task()

    async def deliver_webhook(
        self, url: str, payload: Mapping[str, Any] | bytes, app_secret: str | None, **options: Any
    ) -> httpx.Response:
        """Send a signed webhook to us (see :func:`tests.fake_graph.builders.deliver_webhook`)."""
        return await builders.deliver_webhook(url, payload, app_secret, **options)
