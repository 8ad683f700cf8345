"""Start PyTake the way the README says (`make run`), call it over real HTTP, stop it with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "TEST_DATABASE_URL", "WORKER_METRICS_PORT"}}
    env.update(DATA_DIR=str(data_dir), PORT=str(port), LOG_JSON="true", **extra)
    return subprocess.Popen(["make", "--no-print-directory", "run"], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_ready(base: str, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else "exited"
        try:
            if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the server did not become ready")


def _ctrl_c(process: subprocess.Popen[bytes]) -> str:
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output.decode()


def test_make_run_serves_api_and_worker_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = _start(tmp_path, port)
    try:
        _wait_ready(base, process)
        docs = httpx.get(f"{base}/api/v1/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        registered = httpx.post(f"{base}/api/v1/auth/register", json={
            "email": "owner@example.com", "password": "correct horse battery", "name": "Owner",
            "organization_name": "Real Process"})
        assert registered.status_code == 201, registered.text
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        created = httpx.post(f"{base}/api/v1/contacts", headers=headers, json={"whatsapp_id": "+5511988887777"})
        assert created.status_code == 201
        assert httpx.post(f"{base}/api/v1/auth/forgot-password", json={"email": "owner@example.com"}).status_code == 200
        mailbox = tmp_path / "mailbox"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (mailbox.exists() and any(mailbox.iterdir())):
            time.sleep(0.3)
        assert mailbox.exists() and any(mailbox.iterdir()), "the worker did not deliver the reset email"
    finally:
        output = _ctrl_c(process)
    # make itself dies of the SIGINT it received like the supervisor did; what matters is a clean stop
    assert process.returncode in (0, 2, -signal.SIGINT), output
    assert "PyTake stopped." in output and "Traceback" not in output
    assert "worker.metrics_serving" not in output  # no WORKER_METRICS_PORT: no metrics server, no port taken

    metrics_port = _free_port()
    process = _start(tmp_path, port, WORKER_PROCESSES="2", WORKER_METRICS_PORT=str(metrics_port))
    try:
        _wait_ready(base, process)
        for worker_port in (metrics_port, metrics_port + 1):  # two worker replicas, each serving its metrics
            deadline = time.monotonic() + 20
            while True:
                try:
                    scraped = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=2)
                    break
                except httpx.HTTPError:
                    assert time.monotonic() < deadline, f"no worker metrics on port {worker_port}"
                    time.sleep(0.3)
            assert scraped.status_code == 200 and "pytake_sends_total" in scraped.text
        login = httpx.post(f"{base}/api/v1/auth/login", json={"email": "owner@example.com",
                                                              "password": "correct horse battery"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        contacts = httpx.get(f"{base}/api/v1/contacts", headers=headers).json()
        assert [c["whatsapp_id"] for c in contacts] == ["5511988887777"]
    finally:
        output = _ctrl_c(process)
    serving = sorted(json.loads(line)["port"] for line in output.splitlines() if "worker.metrics_serving" in line)
    assert serving == [metrics_port, metrics_port + 1]
