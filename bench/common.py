"""Shared benchmark plumbing: a PostgreSQL server and fresh databases, seeded contacts, child processes, and the
load generators.

The load generators run in their own process so the server under test never shares a CPU-bound event loop with
the client; each prints one JSON line of results:

- ``python -m bench.common loadgen '<json config>'``: signed WhatsApp webhooks (``webhook_ingest``);
- ``python -m bench.common httpload '<json config>'``: groups of clients replaying request templates
  (``rest_reads``, ``login_storm``); see ``_httpload``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
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
    """Signed webhooks, each a new inbound text, from ``concurrency`` keep-alive connections (the same small
    HTTP/1.1 client as ``httpload``, so the load generator is not the bottleneck)."""
    from urllib.parse import urlsplit

    url, secret, pnid = config["url"], config["app_secret"], config["phone_number_id"]
    concurrency, duration, contacts = int(config["concurrency"]), float(config["duration"]), int(config["contacts"])
    target = urlsplit(str(url))
    host, port = target.hostname or "127.0.0.1", target.port or 80
    warmup = _raw_request("GET", urlsplit(str(config["warmup_url"])).path or "/", target.netloc, {}, None)
    run = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    connections = [_Http11(host, port, 30.0) for _ in range(concurrency)]
    # warm-up: open the connections and let the server settle (not measured)
    await asyncio.gather(*(c.send(warmup) for c in connections), return_exceptions=True)
    cpu_started = time.process_time()
    started = time.perf_counter()
    stop_at = started + duration

    async def sender(connection: _Http11) -> None:
        while time.perf_counter() < stop_at:
            n = next(counter)
            body = inbound_text_body(pnid, f"55119{n % contacts:08d}", f"message {n}",
                                     f"wamid.bench.{run}.{n}", 1_750_000_000 + n)
            headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature(secret, body)}
            raw = _raw_request("POST", target.path, target.netloc, headers, body)
            sent = time.perf_counter()
            try:
                key = str(await connection.send(raw))
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError) as error:
                key = type(error).__name__
            latencies.append(time.perf_counter() - sent) if key == "200" else None
            statuses[key] = statuses.get(key, 0) + 1

    await asyncio.gather(*(sender(c) for c in connections))
    elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    acknowledged = statuses.get("200", 0)
    return {"requests": sum(statuses.values()), "acknowledged": acknowledged, "statuses": statuses,
            "elapsed_s": elapsed, "acknowledged_per_s": acknowledged / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "concurrency": concurrency, "loadgen_cpu": (time.process_time() - cpu_started) / elapsed}


class _Http11:
    """One keep-alive HTTP/1.1 connection, just enough for the load generator: send prepared request bytes, read
    the status and skip the body (Content-Length or chunked). httpx's connection pool spends more CPU per request
    than the servers under test once there are dozens of connections, which would make it the bottleneck."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host, self._port, self._timeout = host, port, timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def send(self, raw: bytes) -> int:
        try:
            async with asyncio.timeout(self._timeout):
                if self._reader is None or self._writer is None:
                    self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
                self._writer.write(raw)
                status, close = await self._response(self._reader)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool]:
        lines = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length: int | None = None
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value
            elif name == b"connection":
                close = value == b"close"
        if chunked:
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await reader.readexactly(size + 2)  # the chunk and its CRLF; the last one is empty (no trailers)
                if size == 0:
                    break
        elif length is not None:
            await reader.readexactly(length)
        elif status not in (204, 304) and status >= 200:
            await reader.read()  # delimited by the end of the connection
            close = True
        return status, close

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _raw_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "User-Agent: pytake-bench"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


async def _httpload(config: dict[str, Any]) -> dict[str, Any]:
    """Groups of concurrent clients (one keep-alive connection each), each group replaying its request templates
    round-robin, for ``duration`` seconds.

    Config: ``base_url`` (http://host:port); ``duration`` (s); ``warmup_s`` (s of the same load before measuring,
    default 0); ``warmup_path`` (one GET per connection first, optional); ``timeout`` (s per request, default 30);
    ``groups``: a list of ``{name, concurrency, headers?, ok_status? (default [200]),
    requests: [{method, path, json?, headers?}]}``.
    Latencies count the answers with an ``ok_status``; everything else (other statuses, transport errors, time-outs)
    counts as an error. Result: ``elapsed_s``, ``loadgen_cpu`` (CPU seconds per second of this process: near 1.0
    means the load generator itself may be the bottleneck) and per group ``requests``, ``ok``, ``errors``,
    ``statuses``, ``ok_per_s``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``max_ms``, ``concurrency``."""
    import itertools
    from urllib.parse import urlsplit

    target = urlsplit(str(config["base_url"]))
    host, port = target.hostname or "127.0.0.1", target.port or 80
    duration, warmup_s = float(config["duration"]), float(config.get("warmup_s", 0.0))
    timeout = float(config.get("timeout", 30.0))
    groups = config["groups"]
    prepared: list[list[bytes]] = []
    for group in groups:
        requests = []
        for template in group["requests"]:
            headers = {**group.get("headers", {}), **template.get("headers", {})}
            body = None
            if "json" in template:
                body = json.dumps(template["json"], separators=(",", ":")).encode()
                headers["Content-Type"] = "application/json"
            requests.append(_raw_request(template["method"].upper(), template["path"], target.netloc, headers, body))
        prepared.append(requests)
    warmup = _raw_request("GET", config["warmup_path"], target.netloc, {}, None) if config.get("warmup_path") else None
    latencies: list[list[float]] = [[] for _ in groups]
    statuses: list[dict[str, int]] = [{} for _ in groups]
    counters = [itertools.count() for _ in groups]
    oks = [{int(code) for code in group.get("ok_status", [200])} for group in groups]
    workers = [(index, _Http11(host, port, timeout)) for index, group in enumerate(groups)
               for _ in range(int(group["concurrency"]))]

    async def client_loop(index: int, connection: _Http11, stop_at: float, record: bool) -> None:
        requests, counter, ok_status = prepared[index], counters[index], oks[index]
        while time.perf_counter() < stop_at:
            raw = requests[next(counter) % len(requests)]
            sent = time.perf_counter()
            try:
                status = await connection.send(raw)
                key = str(status)
            except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
                status, key = 0, type(error).__name__
            if record:
                if status in ok_status:
                    latencies[index].append(time.perf_counter() - sent)
                statuses[index][key] = statuses[index].get(key, 0) + 1

    async def phase(seconds: float, record: bool) -> float:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(index, connection, started + seconds, record)
                               for index, connection in workers))
        return time.perf_counter() - started

    try:
        if warmup is not None:
            await asyncio.gather(*(connection.send(warmup) for _, connection in workers), return_exceptions=True)
        if warmup_s > 0:
            await phase(warmup_s, record=False)
        cpu_started = time.process_time()
        elapsed = await phase(duration, record=True)
        cpu = (time.process_time() - cpu_started) / elapsed
    finally:
        for _, connection in workers:
            connection.close()
    results: dict[str, Any] = {}
    for index, group in enumerate(groups):
        ok = sum(count for key, count in statuses[index].items() if key.isdigit() and int(key) in oks[index])
        total = sum(statuses[index].values())
        values = latencies[index]
        results[group["name"]] = {
            "requests": total, "ok": ok, "errors": total - ok, "statuses": statuses[index],
            "ok_per_s": ok / elapsed, "p50_ms": percentile(values, 0.50) * 1000,
            "p90_ms": percentile(values, 0.90) * 1000, "p99_ms": percentile(values, 0.99) * 1000,
            "max_ms": (max(values) if values else float("nan")) * 1000, "concurrency": int(group["concurrency"])}
    return {"elapsed_s": elapsed, "loadgen_cpu": cpu, "groups": results}


def _run_mode(mode: str, config: dict[str, Any], log: Path) -> dict[str, Any]:
    log.parent.mkdir(parents=True, exist_ok=True)
    budget = float(config["duration"]) + float(config.get("warmup_s", 0.0)) + 120
    completed = subprocess.run([sys.executable, "-m", "bench.common", mode, json.dumps(config)], cwd=ROOT,
                               capture_output=True, timeout=budget, check=False)
    log.write_bytes(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{completed.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return result


def run_loadgen(config: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    """Run the webhook load generator in its own process; returns its results."""
    return _run_mode("loadgen", config, log_dir / "loadgen.log")


def run_httpload(config: dict[str, Any], log: Path) -> dict[str, Any]:
    """Run the request-template load generator (``_httpload``) in its own process; returns its results and
    warns when the load generator used nearly a whole CPU (then it, not the server, may be the limit)."""
    result = _run_mode("httpload", config, log)
    if result["loadgen_cpu"] > 0.85:
        progress(f"note: the load generator used {result['loadgen_cpu']:.0%} of a CPU; it may be the bottleneck")
    return result


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


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "loadgen":
        print(json.dumps(asyncio.run(_loadgen(json.loads(sys.argv[2])))), flush=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "httpload":
        print(json.dumps(asyncio.run(_httpload(json.loads(sys.argv[2])))), flush=True)
    else:
        sys.exit("usage: python -m bench.common loadgen|httpload '<json config>'")
