"""`make run`: embedded PostgreSQL (when DATABASE_URL is unset), migrations, then the API and the worker
as child processes. Ctrl-C (or SIGTERM) stops the children gracefully, then the database.

The same pieces serve the container roles: `pytake api` becomes the API server process, `pytake worker` the
worker (or supervises WORKER_PROCESSES of them); neither migrates (`pytake migrate` runs once, before them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from entrypoints.config import load_settings
from entrypoints.maintenance import apply_migrations
from entrypoints.runtime import resolve_database_url

GRACE_SECONDS = 35
"""How long a stopped child may take: the worker gives its in-flight sends up to 30 s (compose: stop_grace_period)."""
SERVER_FLAGS = ["--loop", "uvloop", "--http", "httptools"]
"""The API server's event loop and HTTP parser (both come with uvicorn[standard]); the benchmarks serve with
these too. Measured against asyncio + h11 in the README's tuning table."""


def worker_metrics_ports(base: int, workers: int) -> list[int]:
    """Each worker replica's metrics port: ``base``, ``base + 1``, ... when WORKER_METRICS_PORT is set, else none
    (0, no metrics server)."""
    return [base + index if base else 0 for index in range(workers)]


def api_command(host: str, port: int, workers: int = 1) -> list[str]:
    """The API server: uvicorn over the app factory; ``workers`` > 1 forks that many server processes on one
    socket (uvicorn supervises them and replaces one that dies)."""
    command = [sys.executable, "-m", "uvicorn", "entrypoints.http.app:create_app", "--factory", "--host", host,
               "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "20", *SERVER_FLAGS]
    return command + (["--workers", str(workers)] if workers > 1 else [])


def worker_command() -> list[str]:
    return [sys.executable, "-m", "entrypoints.worker.main"]


def worker_environments(env: dict[str, str], workers: int, metrics_port: int) -> list[dict[str, str]]:
    """One environment per worker process: each gets its own metrics port (replicas share the queue with
    SKIP LOCKED, and their pacing through PostgreSQL)."""
    return [{**env, "WORKER_METRICS_PORT": str(port)} for port in worker_metrics_ports(metrics_port, workers)]


def start(commands: Sequence[tuple[list[str], dict[str, str]]]) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen(command, env=env) for command, env in commands]


def supervise(children: list[subprocess.Popen[bytes]], banner: str | None = None) -> int:
    """Wait until SIGINT/SIGTERM or until a child exits; then stop every child (SIGTERM, then SIGKILL after the
    grace period). The exit status: 0 on a requested stop, 1 when a child failed on its own."""
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    if banner:
        print(banner, flush=True)
    try:
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.3)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    return 1 if failed and not stopping else 0


def main() -> None:
    settings = load_settings()
    print("PyTake: preparing the database ...", flush=True)
    url = resolve_database_url(settings)
    apply_migrations(url)
    env = dict(os.environ, DATABASE_URL=url, DATA_DIR=str(settings.data_dir))
    commands = [(api_command(settings.host, settings.port, settings.api_workers), env)]
    commands += [(worker_command(), worker_env)
                 for worker_env in worker_environments(env, settings.worker_processes, settings.worker_metrics_port)]
    workers = f"{settings.worker_processes} worker process" + ("es" if settings.worker_processes > 1 else "")
    status = supervise(start(commands), f"PyTake API:  http://{settings.host}:{settings.port}/api/v1/docs  "
                                        f"({workers} running; Ctrl-C stops)")
    print("PyTake stopped.", flush=True)
    if status:
        raise SystemExit(status)


if __name__ == "__main__":
    main()
