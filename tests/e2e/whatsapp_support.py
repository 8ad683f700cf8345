"""Helpers for the WhatsApp e2e suites: an organization with a registered number on the fake Graph API,
signed webhook delivery, polling with deadlines, and direct reads of the database."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

import asyncpg
import httpx

from entrypoints.config import Settings
from tests.conftest import APP_SECRET, ROOT
from tests.e2e.support import plain_dsn
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fake_graph.state import AcceptedSend, RecordedRequest
from tests.helpers import Account, register

API = "/api/v1"
T = TypeVar("T")


def random_digits(length: int = 15, first: str = "7") -> str:
    return first + "".join(secrets.choice("0123456789") for _ in range(length - 1))


def random_wa_id() -> str:
    """A WhatsApp id (E.164 digits) no other test uses."""
    return random_digits(13, "5")


@dataclass
class WaOrg:
    admin: Account
    phone_number_id: str
    token: str
    secret_id: str
    number: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return self.admin.headers


async def org_with_number(client: httpx.AsyncClient, fake: FakeGraphServer, *, token: str | None = None,
                          **fake_options: Any) -> WaOrg:
    """A new organization whose admin stored a token (``token`` or a fresh one) in the vault and registered a
    fresh number with it."""
    admin = await register(client)
    pnid, token = random_digits(), token or "EAAG" + secrets.token_hex(12)
    fake.add_number(pnid, token, display_phone_number="15550783881", verified_name="Acme", **fake_options)
    secret = await client.post(f"{API}/secrets/", headers=admin.headers,
                               json={"key": "WA_TOKEN", "value": token, "service": "whatsapp"})
    assert secret.status_code == 201, secret.text
    number = await client.post(f"{API}/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": pnid, "access_token_secret_id": secret.json()["id"]})
    assert number.status_code == 201, number.text
    assert number.json()["status"] == "active", number.json()
    return WaOrg(admin, pnid, token, secret.json()["id"], number.json())


def signed(payload: Mapping[str, Any] | bytes, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = builders.webhook_body(payload)
    return body, {"X-Hub-Signature-256": builders.sign(secret, body), "content-type": "application/json"}


async def deliver(client: httpx.AsyncClient, payload: Mapping[str, Any] | bytes) -> bytes:
    """POST a signed webhook; asserts the 200 acknowledgement and returns the exact body sent."""
    body, headers = signed(payload)
    response = await client.post(f"{API}/whatsapp/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] in ("received", "duplicate")
    return body


async def wait_until(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 10.0, interval: float = 0.05,
                     what: str = "condition") -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


async def fetch(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def count(database_url: str, sql: str, *args: Any) -> int:
    rows = await fetch(database_url, sql, *args)
    return int(rows[0][0])


async def wait_processed(database_url: str, body: bytes, *, timeout: float = 10.0) -> dict[str, int]:
    """The summary of the stored webhook event with this exact body, once the worker processed it."""
    sha = hashlib.sha256(body).hexdigest()

    async def probe() -> dict[str, int] | None:
        rows = await fetch(database_url, "SELECT status, summary FROM webhook_events WHERE body_sha256 = $1", sha)
        if rows and rows[0]["status"] == "processed":
            summary = rows[0]["summary"]
            return json.loads(summary) if isinstance(summary, str) else dict(summary or {}) or {"_empty": 0}
        return None

    summary = await wait_until(probe, timeout=timeout, what=f"webhook event {sha[:12]} processed")
    summary.pop("_empty", None)
    return summary


async def get_message(client: httpx.AsyncClient, org: WaOrg, message_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/whatsapp/messages/{message_id}", headers=org.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_status(client: httpx.AsyncClient, org: WaOrg, message_id: str, *statuses: str,
                      timeout: float = 10.0) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        detail = await get_message(client, org, message_id)
        return detail if detail["status"] in statuses else None

    return await wait_until(probe, timeout=timeout, what=f"message {message_id} in {statuses}")


async def send(client: httpx.AsyncClient, org: WaOrg, to: str, **body: Any) -> httpx.Response:
    return await client.post(f"{API}/whatsapp/send", headers=org.headers, json={"to": to, **body})


async def send_template(client: httpx.AsyncClient, org: WaOrg, to: str, name: str = "order_update") -> str:
    response = await send(client, org, to, type="template", template_id=name)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["message_id"])


async def contact_by_wa_id(client: httpx.AsyncClient, org: WaOrg, wa_id: str) -> dict[str, Any] | None:
    response = await client.get(f"{API}/contacts", headers=org.headers, params={"query": wa_id})
    assert response.status_code == 200, response.text
    return next((c for c in response.json() if c["whatsapp_id"] == wa_id), None)


async def contact_messages(client: httpx.AsyncClient, org: WaOrg, contact_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/contacts/{contact_id}/messages", headers=org.headers)
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    assert int(response.headers["x-total-count"]) == len(messages)
    return messages


def sends_of(fake: FakeGraphServer, message_id: str) -> list[AcceptedSend]:
    """Accepted sends carrying our message id as biz_opaque_callback_data."""
    return [s for s in fake.sent_messages if s.biz_opaque_callback_data == message_id]


def requests_of(fake: FakeGraphServer, message_id: str) -> list[RecordedRequest]:
    """Every send request (accepted or not) for our message id."""
    return [r for r in fake.requests if r.method == "POST" and isinstance(r.json, dict)
            and r.json.get("biz_opaque_callback_data") == message_id]


def process_env(settings: Settings, database_url: str, **extra: str) -> dict[str, str]:
    """The environment a real API or worker process needs to act like the test app."""
    def secret(value: Any) -> str:
        return str(value.get_secret_value())

    inherited = {k: v for k, v in os.environ.items() if k != "WORKER_METRICS_PORT"}  # off unless a test sets it
    return {**inherited, "ENV": "test", "DATABASE_URL": database_url, "DATA_DIR": str(settings.data_dir),
            "WHATSAPP_GRAPH_URL": settings.whatsapp_graph_url,
            "WHATSAPP_APP_SECRET": secret(settings.whatsapp_app_secret),
            "WHATSAPP_VERIFY_TOKEN": secret(settings.whatsapp_verify_token),
            "JWT_SECRET": secret(settings.jwt_secret), "VAULT_MASTER_KEYS": secret(settings.vault_master_keys),
            "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024",
            "LOG_LEVEL": "INFO", "LOG_JSON": "true", **extra}


class ManagedProcess:
    """A child process of a test with its output in a log file: start, kill, stop gracefully, read the log."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""


class WorkerProcess(ManagedProcess):
    """``python -m entrypoints.worker.main`` with the test app's settings in its environment."""

    def __init__(self, settings: Settings, database_url: str, log: Path, **env: str) -> None:
        super().__init__(["-m", "entrypoints.worker.main"], process_env(settings, database_url, **env), log)


@contextmanager
def worker_processes(settings: Settings, database_url: str, logs: Path, count: int, *, start: bool = False,
                     **env: str) -> Iterator[list[WorkerProcess]]:
    """``count`` real workers (started now when ``start``, else by the test); on exit each one started is
    stopped and must have exited cleanly (its log's tail says why not)."""
    processes = [WorkerProcess(settings, database_url, logs / f"worker-{i}.log", **env) for i in range(count)]
    try:
        yield [process.start() for process in processes] if start else processes
    finally:
        for process in processes:
            if process.process is not None:
                assert process.stop() == 0, process.tail()


async def org_with_waba(client: httpx.AsyncClient, fake: FakeGraphServer,
                        templates: list[dict[str, Any]] | None = None) -> tuple[WaOrg, str]:
    """An organization whose number is registered with its WABA id; the fake lists ``templates`` for the WABA
    (None: the WABA is unknown to the token)."""
    admin = await register(client)
    pnid, waba, token = random_digits(), random_digits(), "EAAG" + secrets.token_hex(12)
    fake.add_number(pnid, token, display_phone_number="15550783881", verified_name="Acme")
    if templates is not None:
        fake.add_waba(waba, token)
        fake.set_templates(waba, templates)
    secret = await client.post(f"{API}/secrets/", headers=admin.headers,
                               json={"key": "WA_TOKEN", "value": token, "service": "whatsapp"})
    number = await client.post(f"{API}/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": pnid, "waba_id": waba, "access_token_secret_id": secret.json()["id"]})
    assert number.status_code == 201 and number.json()["status"] == "active", number.text
    return WaOrg(admin, pnid, token, secret.json()["id"], number.json()), waba


async def listed(client: httpx.AsyncClient, org: WaOrg, **params: Any) -> tuple[list[dict[str, Any]], int]:
    response = await client.get(f"{API}/whatsapp/templates", headers=org.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json(), int(response.headers["x-total-count"])


async def wait_templates(client: httpx.AsyncClient, org: WaOrg, total: int, **params: Any) -> list[dict[str, Any]]:
    async def probe() -> list[dict[str, Any]] | None:
        found, count = await listed(client, org, number_id=org.number["id"], limit=200, **params)
        return found if count == total else None

    return await wait_until(probe, timeout=15, what=f"{total} templates listed ({params})")
