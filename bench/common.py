"""Shared benchmark plumbing: a PostgreSQL server and fresh databases, child processes, a load generator.

The load generator runs in its own process (``python -m bench.common loadgen '<json config>'``) so the
server under test never shares a CPU-bound event loop with the client; it prints one JSON line of results.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"

UVICORN_FLAGS = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--loop", "asyncio",
                 "--http", "h11", "--workers", "1"]
"""The same uvicorn settings for PyTake and the baseline."""


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
    from entrypoints.container import apply_migrations

    await asyncio.to_thread(apply_migrations, url)
    return url


async def drop_database(server: str, url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(plain_dsn(server))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


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
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                   stderr=subprocess.STDOUT)
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


# --------------------------------------------------------------------------- webhook payloads


def inbound_text_body(phone_number_id: str, wa_id: str, text: str, wamid: str, timestamp: int) -> bytes:
    """One Meta ``messages`` webhook with one inbound text (CLOUD_API_FACTS.md W1), compact JSON."""
    payload = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Bench User"}, "wa_id": wa_id}],
        "messages": [{"from": wa_id, "id": wamid, "timestamp": str(timestamp), "type": "text",
                      "text": {"body": text}}]}, "field": "messages"}]}]}
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the load generator


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _loadgen(config: dict[str, Any]) -> dict[str, Any]:
    import httpx

    url, secret, pnid = config["url"], config["app_secret"], config["phone_number_id"]
    concurrency, duration, contacts = int(config["concurrency"]), float(config["duration"]), int(config["contacts"])
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        # warm-up: open the connections and let the server settle (not measured)
        await asyncio.gather(*(client.get(config["warmup_url"]) for _ in range(concurrency)),
                             return_exceptions=True)
        started = time.perf_counter()
        stop_at = started + duration

        async def sender() -> None:
            while time.perf_counter() < stop_at:
                n = next(counter)
                body = inbound_text_body(pnid, f"55119{n % contacts:08d}", f"message {n}",
                                         f"wamid.bench.{run}.{n}", 1_750_000_000 + n)
                headers = {"content-type": "application/json", "X-Hub-Signature-256": signature(secret, body)}
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                    key = str(response.status_code)
                except httpx.HTTPError as error:
                    key = type(error).__name__
                latencies.append(time.perf_counter() - sent) if key == "200" else None
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    acknowledged = statuses.get("200", 0)
    return {"requests": sum(statuses.values()), "acknowledged": acknowledged, "statuses": statuses,
            "elapsed_s": elapsed, "acknowledged_per_s": acknowledged / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "concurrency": concurrency}


def run_loadgen(config: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    """Run the load generator in its own process; returns its results."""
    log_dir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run([sys.executable, "-m", "bench.common", "loadgen", json.dumps(config)], cwd=ROOT,
                               capture_output=True, timeout=float(config["duration"]) + 120, check=False)
    (log_dir / "loadgen.log").write_bytes(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return result


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


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "loadgen":
        print(json.dumps(asyncio.run(_loadgen(json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m bench.common loadgen '<json config>'")
