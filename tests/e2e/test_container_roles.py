"""The container roles as real processes: `pytake api` serves /health and /ready, `pytake worker` runs
WORKER_PROCESSES workers each serving its metrics; SIGTERM stops both cleanly (what `docker stop` sends)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(role: str, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items()
                   if k not in {"TEST_DATABASE_URL", "WORKER_METRICS_PORT", "API_WORKERS", "WORKER_PROCESSES"}}
    environment.update(LOG_JSON="true", **env)
    return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", role], cwd=ROOT, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _get_when_up(url: str, process: subprocess.Popen[str], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()[0]
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"nothing answered on {url}"
            time.sleep(0.3)


def _stop(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return output


def test_api_and_worker_roles_serve_and_stop_on_sigterm(database_url: str, tmp_path: Path) -> None:
    port, metrics = _free_port(), _free_port()
    api = _start("api", DATABASE_URL=database_url, DATA_DIR=str(tmp_path), PORT=str(port))
    worker = _start("worker", DATABASE_URL=database_url, DATA_DIR=str(tmp_path), WORKER_PROCESSES="2",
                    WORKER_METRICS_PORT=str(metrics))
    try:
        health = _get_when_up(f"http://127.0.0.1:{port}/health", api)
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        ready = _get_when_up(f"http://127.0.0.1:{port}/ready", api)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        for worker_port in (metrics, metrics + 1):  # two worker processes, each with its own metrics port
            scraped = _get_when_up(f"http://127.0.0.1:{worker_port}/metrics", worker)
            assert scraped.status_code == 200 and "pytake_jobs_total" in scraped.text
    finally:
        api_output, worker_output = _stop(api), _stop(worker)
    # uvicorn re-raises the SIGTERM it handled once it has shut down gracefully
    assert api.returncode in (0, -signal.SIGTERM) and "Application shutdown complete." in api_output, api_output
    assert worker.returncode == 0, worker_output
    assert "Traceback" not in api_output + worker_output
    assert worker_output.count('"worker.stopped"') == 2  # both finished their jobs and stopped, none was killed
