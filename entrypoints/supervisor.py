"""`make run`: embedded PostgreSQL (when DATABASE_URL is unset), migrations, then the API and the worker
as two child processes. Ctrl-C (or SIGTERM) stops the children gracefully, then the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from entrypoints.config import load_settings
from entrypoints.container import apply_migrations
from entrypoints.runtime import resolve_database_url

GRACE_SECONDS = 25
SERVER_FLAGS = ["--loop", "uvloop", "--http", "httptools"]
"""The API server's event loop and HTTP parser (both come with uvicorn[standard]); the benchmarks serve with
these too. Measured against asyncio + h11 in the README's tuning table."""


def worker_metrics_ports(base: int, workers: int) -> list[int]:
    """Each worker replica's metrics port: ``base``, ``base + 1``, ... when WORKER_METRICS_PORT is set, else none
    (0, no metrics server)."""
    return [base + index if base else 0 for index in range(workers)]


def api_command(host: str, port: int, api_workers: int) -> list[str]:
    """uvicorn serving the API; API_WORKERS > 1 adds ``--workers``: that many processes accept on one socket
    (each with its own pools, about 2 x DATABASE_POOL_SIZE connections; nothing else is shared in memory)."""
    command = [sys.executable, "-m", "uvicorn", "entrypoints.http.app:create_app", "--factory", "--host", host,
               "--port", str(port), "--no-access-log", "--timeout-graceful-shutdown", "20", *SERVER_FLAGS]
    if api_workers > 1:
        command += ["--workers", str(api_workers)]
    return command


def _children(env: dict[str, str], host: str, port: int, workers: int,
              metrics_port: int, api_workers: int = 1) -> list[subprocess.Popen[bytes]]:
    api = api_command(host, port, api_workers)
    worker = [sys.executable, "-m", "entrypoints.worker.main"]
    children = [subprocess.Popen(api, env=env)]
    for port_of_this in worker_metrics_ports(metrics_port, workers):  # replicas share the queue (SKIP LOCKED)
        children.append(subprocess.Popen(worker, env={**env, "WORKER_METRICS_PORT": str(port_of_this)}))
    return children


def main() -> None:
    settings = load_settings()
    print("PyTake: preparing the database ...", flush=True)
    url = resolve_database_url(settings)
    apply_migrations(url)
    env = dict(os.environ, DATABASE_URL=url, DATA_DIR=str(settings.data_dir))
    children = _children(env, settings.host, settings.port, settings.worker_processes, settings.worker_metrics_port,
                         settings.api_workers)
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    workers = (f"{settings.api_workers} API process" + ("es" if settings.api_workers > 1 else "") + ", "
               f"{settings.worker_processes} worker process" + ("es" if settings.worker_processes > 1 else ""))
    print(f"PyTake API:  http://{settings.host}:{settings.port}/api/v1/docs  ({workers} running; Ctrl-C stops)",
          flush=True)
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
        print("PyTake stopped.", flush=True)
    failed = [c.returncode for c in children if c.returncode not in (0, -signal.SIGTERM, None)]
    if failed and not stopping:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
