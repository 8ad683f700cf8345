"""Settings are built at start-up; development secrets are generated once; production refuses them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrypoints.config import SettingsError, load_settings
from entrypoints.supervisor import api_command, worker_metrics_ports


def test_development_secrets_are_generated_once_and_found_again(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path, env="development")
    second = load_settings(data_dir=tmp_path, env="development")
    assert first.jwt_secret is not None and second.jwt_secret is not None
    assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
    assert len(first.jwt_secret.get_secret_value()) >= 32
    keys = json.loads(first.vault_master_keys.get_secret_value())  # type: ignore[union-attr]
    assert list(keys) == ["1"]
    assert (tmp_path / "secrets" / "jwt_secret").stat().st_mode & 0o077 == 0  # readable by the owner only


def test_production_refuses_generated_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(data_dir=tmp_path, env="production")
    message = str(error.value)
    for name in ("JWT_SECRET", "VAULT_MASTER_KEYS", "DATABASE_URL", "WHATSAPP_APP_SECRET"):
        assert name in message
    assert not (tmp_path / "secrets").exists()


def test_production_refuses_a_short_jwt_secret(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="JWT_SECRET"):
        load_settings(data_dir=tmp_path, env="production", jwt_secret="short", vault_master_keys="{}",
                      database_url="postgresql://x@y/z", whatsapp_app_secret="s", whatsapp_verify_token="t")


def test_secrets_never_appear_in_the_settings_repr(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, jwt_secret="j" * 40, whatsapp_app_secret="app-secret-canary")
    assert "j" * 40 not in repr(settings) and "app-secret-canary" not in repr(settings)


def test_cors_origins_accept_a_comma_separated_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example, http://b.example")
    assert load_settings(data_dir=tmp_path).cors_origins == ["http://a.example", "http://b.example"]


def test_the_worker_metrics_server_is_off_unless_a_port_is_configured(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKER_METRICS_PORT", raising=False)
    assert load_settings(data_dir=tmp_path).worker_metrics_port == 0  # two installations on one host never collide
    monkeypatch.setenv("WORKER_METRICS_PORT", "9200")
    assert load_settings(data_dir=tmp_path).worker_metrics_port == 9200


@pytest.mark.parametrize(("base", "workers", "ports"), [(0, 1, [0]), (0, 3, [0, 0, 0]), (9200, 1, [9200]),
                                                         (9200, 3, [9200, 9201, 9202])])
def test_worker_replicas_serve_metrics_on_consecutive_ports_only_when_configured(base: int, workers: int,
                                                                                  ports: list[int]) -> None:
    assert worker_metrics_ports(base, workers) == ports


@pytest.mark.parametrize(("api_workers", "flag"), [(1, None), (2, "2"), (4, "4")])
def test_api_workers_become_uvicorn_worker_processes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                     api_workers: int, flag: str | None) -> None:
    monkeypatch.setenv("API_WORKERS", str(api_workers))
    settings = load_settings(data_dir=tmp_path)
    command = api_command(settings.host, settings.port, settings.api_workers)
    assert command[command.index("--port") + 1] == str(settings.port)
    if flag is None:
        assert "--workers" not in command
    else:
        assert command[command.index("--workers") + 1] == flag


def test_list_count_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LIST_COUNT_EXACT_LIMIT", "25")
    monkeypatch.setenv("LIST_COUNT_CACHE_SECONDS", "0")
    settings = load_settings(data_dir=tmp_path)
    assert (settings.list_count_exact_limit, settings.list_count_cache_seconds) == (25, 0)
    monkeypatch.setenv("LIST_COUNT_EXACT_LIMIT", "0")
    with pytest.raises(ValueError):
        load_settings(data_dir=tmp_path)
