"""Fault-injection helpers: a private PostgreSQL server that can be stopped and started (the pgserver binaries),
the API as a real uvicorn process, a load that records every answer, and signed webhooks with unique ids."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.whatsapp_support import ManagedProcess
from tests.fake_graph import builders


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateServer:
    """A PostgreSQL server of the test's own (pgserver's binaries, its own data directory), so stopping it
    touches nothing else the suite uses."""

    def __init__(self, pgdata: Path) -> None:
        import pgserver

        pgdata.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
        self.pgdata = pgdata.resolve()
        self._server: Any = pgserver.get_server(self.pgdata, cleanup_mode="delete")  # type: ignore[attr-defined]

    def url(self, database: str) -> str:
        uri: str = self._server.get_uri(database)
        return uri

    def create_database(self, name: str) -> str:
        self._server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        """A fast shutdown: open connections are terminated, new ones refused."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self._server.system_user, timeout=30)

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def close(self) -> None:
        try:
            self.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass


class ApiProcess(ManagedProcess):
    """The API the way ``make run`` serves it: uvicorn with the app factory, in its own process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__(["-m", "uvicorn", "entrypoints.http.app:create_app", "--factory", "--host", "127.0.0.1",
                          "--port", str(self.port), "--no-access-log"], env, log)

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                assert self.alive(), self.tail()
                try:
                    if (await client.get(f"{self.base_url}/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"the API did not become ready:\n{self.tail()}")


def inbound_text(phone_number_id: str, wa_id: str, wamid: str, text: str) -> tuple[bytes, dict[str, str]]:
    """A signed Meta ``messages`` webhook carrying one inbound text with our own wamid."""
    from tests.conftest import APP_SECRET

    payload = builders.inbound_text(phone_number_id, wa_id, text, wamid=wamid)
    body = builders.webhook_body(payload)
    return body, {"X-Hub-Signature-256": builders.sign(APP_SECRET, body), "content-type": "application/json"}


def new_wamid() -> str:
    return "wamid.fault." + secrets.token_hex(12)


@dataclass
class Answer:
    at: float
    status: int | str
    body: Any = None
    retry_after: str | None = None


@dataclass
class Recorder:
    """Every answer of a load, by kind, with the time it came back."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)

    def add(self, kind: str, answer: Answer) -> None:
        self.answers.setdefault(kind, []).append(answer)

    def statuses(self, kind: str) -> Counter[int | str]:
        return Counter(a.status for a in self.answers.get(kind, []))

    def of(self, kind: str, status: int | str) -> list[Answer]:
        return [a for a in self.answers.get(kind, []) if a.status == status]
