"""Shared benchmark plumbing: a PostgreSQL server and fresh databases, seeded contacts, child processes, PyTake
under uvicorn, options, results. The load generators are in ``bench.loadgen``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from entrypoints.supervisor import SERVER_FLAGS

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

PLAIN_SERVER_FLAGS = ["--loop", "asyncio", "--http", "h11"]
"""The untuned server (BENCH_SERVER=plain): the 'before' column of the README's tuning table."""

UVICORN_FLAGS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log",
                 *(PLAIN_SERVER_FLAGS if os.environ.get("BENCH_SERVER") == "plain" else SERVER_FLAGS),
                 "--workers", "1"]
"""The same uvicorn settings for PyTake and the baseline: what ``make run`` serves with (SERVER_FLAGS)."""

BASELINE_POOL = 20
"""Connections in a baseline's asyncpg pool: PyTake's pool is DATABASE_POOL_SIZE 10 + max_overflow 10."""


def uvicorn_args(factory: str, port: int) -> list[str]:
    """``python -m uvicorn`` arguments serving ``module:factory`` on 127.0.0.1:port with UVICORN_FLAGS."""
    return ["-m", "uvicorn", factory, "--factory", "--port", str(port), *UVICORN_FLAGS]


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- PostgreSQL


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def server_url() -> str:
    """TEST_DATABASE_URL or DATABASE_URL (a server we may create databases on), else the embedded one."""
    for name in ("TEST_DATABASE_URL", "DATABASE_URL"):
        if os.environ.get(name):
            return os.environ[name]
    from entrypoints.embedded_db import start_embedded_postgres

    progress("starting the embedded PostgreSQL under .data/bench")
    return start_embedded_postgres(ROOT / ".data" / "bench", database="postgres", stop_on_exit=True)


async def create_database(server: str, prefix: str) -> str:
    """A fresh database with every migration applied; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(plain_dsn(server))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    url = with_database(server, name)
    from entrypoints.maintenance import apply_migrations

    await asyncio.to_thread(apply_migrations, url)
    return url


async def drop_database(server: str, url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(plain_dsn(server))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


# --------------------------------------------------------------------------- seeded contacts

FIRST_NAMES = ["maria", "ana", "joao", "pedro", "lucas", "julia", "carla", "marcos", "paula", "bruno"]
LAST_NAMES = ["silva", "souza", "oliveira", "santos", "lima", "costa", "pereira", "almeida", "ferreira", "rocha"]
CONTACT_COLUMNS = ["id", "organization_id", "whatsapp_id", "name", "email", "created_at", "updated_at"]


async def copy_contacts(connection: asyncpg.Connection, org: uuid.UUID, contacts: int) -> None:
    """COPY ``contacts`` synthetic contacts into organization ``org`` (which must exist), then ANALYZE.

    Deterministic names and emails (seeded RNG), whatsapp_id ``55119`` + 8 digits, one second apart (newest
    first by number)."""
    now = datetime.now(UTC)
    rng = random.Random(7)
    batch = []
    for n in range(contacts):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = rng.choice(["gmail.com", "example.com", "empresa.com.br"])
        batch.append((uuid.uuid4(), org, f"55119{n:08d}", f"{first.title()} {last.title()}",
                      f"{first}.{last}{n}@{domain}", now - timedelta(seconds=n), now))
        if len(batch) == 10_000:
            await connection.copy_records_to_table("contacts", records=batch, columns=CONTACT_COLUMNS)
            batch.clear()
            progress(f"seeded {n + 1} contacts")
    if batch:
        await connection.copy_records_to_table("contacts", records=batch, columns=CONTACT_COLUMNS)
    await connection.execute("ANALYZE contacts")


# --------------------------------------------------------------------------- child processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, size: int = 2000) -> str:
        return self.log.read_text(errors="replace")[-size:] if self.log.exists() else ""

    def stop(self, timeout: float = 20.0) -> None:
        if self.process.poll() is None:
            if _profiled(self.name):  # py-spy writes its profile on SIGINT; the server stops on it too
                os.killpg(self.process.pid, signal.SIGINT)
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def _profiled(name: str) -> bool:
    """BENCH_PYSPY=1 profiles every child process; BENCH_PYSPY=<text> those whose name contains it."""
    wanted = os.environ.get("BENCH_PYSPY", "")
    return wanted == "1" or bool(wanted and wanted in name)


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    command = [sys.executable, *args]
    if _profiled(name):  # collapsed stacks next to its log (py-spy on PyPI)
        command = [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw", "--rate", "250",
                   "--subprocesses", "--nonblocking", "-o", str(log_dir / f"{name}.pyspy.txt"), "--", *command]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=_profiled(name))
    return Child(name, process, log)


async def wait_http(child: Child, url: str, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
            try:
                if (await client.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{child.name} did not answer {url} within {timeout} s:\n{child.tail()}")
            await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- PyTake under uvicorn


def pytake_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a PyTake API process of a benchmark (secrets generated per run; extra settings added)."""
    import secrets

    return {"DATABASE_URL": database_url, "DATA_DIR": str(data_dir), "ENV": "development",
            "JWT_SECRET": secrets.token_urlsafe(48), "WHATSAPP_APP_SECRET": secrets.token_hex(16),
            "WHATSAPP_VERIFY_TOKEN": secrets.token_urlsafe(24), "LOG_LEVEL": "WARNING", "LOG_JSON": "true", **extra}


async def register_account(base_url: str, email: str, password: str, organization: str) -> dict[str, Any]:
    """``POST /api/v1/auth/register`` (a new organization and its org_admin); returns the token answer."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        response = await client.post("/api/v1/auth/register", json={
            "email": email, "password": password, "name": email.split("@")[0], "organization_name": organization})
    if response.status_code != 201:
        raise RuntimeError(f"register {email}: {response.status_code} {response.text[:500]}")
    answer: dict[str, Any] = response.json()
    return answer


async def login_token(base_url: str, email: str, password: str) -> str:
    """``POST /api/v1/auth/login``; returns a fresh access token."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    if response.status_code != 200:
        raise RuntimeError(f"login {email}: {response.status_code} {response.text[:500]}")
    return str(response.json()["access_token"])


def logs_dir() -> Path:
    return ROOT / ".data" / "bench" / "logs" / time.strftime("%Y%m%d-%H%M%S")


def cli_main(prog: str, doc: str, add_arguments: Callable[[argparse.ArgumentParser], None],
             quick: dict[str, Any], run: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
             argv: list[str] | None) -> dict[str, Any]:
    """Parse a benchmark's options (``--quick`` switches to the smaller defaults in ``quick``; options given
    explicitly still win) and run it."""
    parser = argparse.ArgumentParser(prog=f"python -m bench {prog}", description=doc.splitlines()[0])
    add_arguments(parser)
    if parser.parse_args(argv).quick:
        parser.set_defaults(**quick)
    return asyncio.run(run(parser.parse_args(argv)))


def save_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return path


def print_table(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """Rows of (figure, PyTake, baseline, unit); the ratio is PyTake / baseline."""
    print()
    print(title)
    header = f"{'figure':<40} {'PyTake':>12} {'baseline':>12} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    for figure, ours, theirs, unit in rows:
        ratio = ours / theirs if theirs else float("nan")
        print(f"{figure + ' (' + unit + ')':<40} {ours:>12.1f} {theirs:>12.1f} {ratio:>8.2f}")
    print()
