"""The container roles: `pytake api` becomes the API server, `pytake worker` the worker(s); both check the
settings first and neither starts when production secrets or the database are missing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from entrypoints import cli, supervisor

DATABASE = "postgresql://pytake:pw@db.internal:5432/pytake"
SECRETS = {"JWT_SECRET": "j" * 40, "VAULT_MASTER_KEYS": '{"1": "a2V5"}', "WHATSAPP_APP_SECRET": "app-secret",
           "WHATSAPP_VERIFY_TOKEN": "verify-token"}


class Executed(Exception):
    def __init__(self, path: str, argv: list[str], env: dict[str, str]) -> None:
        super().__init__(path)
        self.argv, self.env = argv, env


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("ENV", "DATABASE_URL", "HOST", "PORT", "API_WORKERS", "WORKER_PROCESSES", "WORKER_METRICS_PORT",
                 *SECRETS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        raise Executed(path, argv, env)

    monkeypatch.setattr(cli.os, "execve", execve)


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr(sys, "argv", ["pytake", *args])
    cli.main()


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_api_execs_uvicorn_with_the_host_port_and_workers_of_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("API_WORKERS", "3")
    with pytest.raises(Executed) as executed:
        _run(monkeypatch, "api")
    argv = executed.value.argv
    assert argv[:3] == [sys.executable, "-m", "uvicorn"] and "entrypoints.http.app:create_app" in argv
    assert "--factory" in argv
    assert (_option(argv, "--host"), _option(argv, "--port"), _option(argv, "--workers")) == ("0.0.0.0", "8123", "3")
    assert executed.value.env["DATABASE_URL"] == DATABASE


def test_one_api_worker_serves_in_the_uvicorn_process_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    with pytest.raises(Executed) as executed:
        _run(monkeypatch, "api")
    assert "--workers" not in executed.value.argv
    assert (_option(executed.value.argv, "--host"), _option(executed.value.argv, "--port")) == ("127.0.0.1", "8000")


def test_one_worker_process_becomes_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    monkeypatch.setenv("WORKER_METRICS_PORT", "9100")
    with pytest.raises(Executed) as executed:
        _run(monkeypatch, "worker")
    assert executed.value.argv == [sys.executable, "-m", "entrypoints.worker.main"]
    assert executed.value.env["WORKER_METRICS_PORT"] == "9100"
    assert executed.value.env["DATABASE_URL"] == DATABASE


def test_worker_processes_are_supervised_each_with_its_metrics_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    monkeypatch.setenv("WORKER_PROCESSES", "3")
    monkeypatch.setenv("WORKER_METRICS_PORT", "9100")
    started: list[tuple[list[str], dict[str, str]]] = []

    def start(commands: list[tuple[list[str], dict[str, str]]]) -> list[Any]:
        started.extend(commands)
        return []

    monkeypatch.setattr(supervisor, "start", start)
    monkeypatch.setattr(supervisor, "supervise", lambda children, banner=None: 0)
    with pytest.raises(SystemExit) as exited:
        _run(monkeypatch, "worker")
    assert exited.value.code == 0
    assert [command for command, _ in started] == [[sys.executable, "-m", "entrypoints.worker.main"]] * 3
    assert [env["WORKER_METRICS_PORT"] for _, env in started] == ["9100", "9101", "9102"]
    assert {env["DATABASE_URL"] for _, env in started} == {DATABASE}


@pytest.mark.parametrize("role", ["api", "worker", "migrate"])
def test_production_without_its_secrets_refuses_to_start(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], role: str) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    monkeypatch.setenv("JWT_SECRET", SECRETS["JWT_SECRET"])
    with pytest.raises(SystemExit) as exited:  # never Executed: nothing starts
        _run(monkeypatch, role)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "VAULT_MASTER_KEYS" in error and "WHATSAPP_APP_SECRET" in error and "WHATSAPP_VERIFY_TOKEN" in error
    assert "JWT_SECRET" not in error and SECRETS["JWT_SECRET"] not in error and "Traceback" not in error


def test_production_with_its_secrets_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "production")
    monkeypatch.setenv("DATABASE_URL", DATABASE)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(Executed):
        _run(monkeypatch, "api")


@pytest.mark.parametrize("role", ["api", "worker", "migrate"])
def test_no_database_url_without_the_embedded_extra_is_a_clear_error(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], role: str) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)  # as in the container image: `import pgserver` fails
    with pytest.raises(SystemExit) as exited:
        _run(monkeypatch, role)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "DATABASE_URL is unset" in error and "pytake[embedded]" in error and "Traceback" not in error


def test_supervise_stops_the_others_when_one_worker_dies() -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    failing = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    before = signal.getsignal(signal.SIGINT)
    assert supervisor.supervise([sleeper, failing]) == 1
    assert sleeper.returncode == -15  # stopped with SIGTERM, not left running
    assert signal.getsignal(signal.SIGINT) is before  # the caller's handlers are back


def test_supervise_stops_every_child_on_sigterm() -> None:
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) for _ in range(2)]
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    assert supervisor.supervise(children) == 0  # a requested stop is a success
    assert [child.returncode for child in children] == [-signal.SIGTERM] * 2
