"""Settings, read once at start-up from the environment (never at import)."""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(RuntimeError):
    """The configuration is unusable (message names the setting, never its value)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str | None = None
    database_app_role: str = "pytake_app"
    database_pool_size: int = 10
    database_pool_pre_ping: bool = False  # True: test each pooled connection before use (a round trip per checkout)
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    vault_master_keys: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v25.0"
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_default_mps: int = 80
    # inbound media (GET /whatsapp/media/{id}): largest download served; disk kept for copies (0: no copies)
    media_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)
    media_cache_bytes: int = Field(default=1024 * 1024 * 1024, ge=0)
    # a send refused for now (rate limits, outages) is tried this many times, then failed with Meta's last error
    whatsapp_send_max_attempts: int = Field(default=8, ge=1, le=100)
    whatsapp_send_max_backoff_seconds: float = Field(default=3600.0, gt=0)  # the longest wait between two tries
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["http://localhost:3000"])
    frontend_url: str = "http://localhost:3000"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    mail_from: str = "PyTake <no-reply@pytake.local>"
    log_level: str = "INFO"
    log_json: bool = True
    worker_concurrency: int = 20
    opt_out_keywords: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["STOP", "PARAR", "SAIR", "CANCELAR", "UNSUBSCRIBE", "DESCADASTRAR"])
    worker_poll_seconds: float = Field(default=1.0, gt=0)  # delayed and retried jobs are seen this soon
    worker_heartbeat_seconds: float = Field(default=30.0, gt=0)  # a crashed worker's jobs are re-picked after it
    worker_job_max_attempts: int = Field(default=8, ge=1, le=100)  # then a job is dead-lettered, its subject failed
    worker_inbox_batch: int = Field(default=200, ge=1, le=5000)  # stored webhooks one inbox batch claims
    worker_processes: int = Field(default=1, ge=1, le=64)  # worker processes `make run` / `pytake worker` start
    api_workers: int = Field(default=1, ge=1, le=64)  # uvicorn worker processes `make run` / `pytake api` serve with
    # list totals (X-Total-Count): exact up to this many items; past it the database's estimate, flagged by
    # X-Total-Count-Estimated: true, and remembered LIST_COUNT_CACHE_SECONDS per process
    list_count_exact_limit: int = Field(default=10_000, ge=1)
    list_count_cache_seconds: float = Field(default=10.0, ge=0)
    # an API process remembers a token's access facts this long, and forgets them all on NOTIFY pytake_auth
    auth_cache_seconds: float = Field(default=2.0, ge=0)
    worker_metrics_host: str = "127.0.0.1"
    # the worker's own /metrics; 0 (the default) serves none, so two installations on one host never collide
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    # hashes computed at once per process (the rest wait): a login storm then cannot take every core from the
    # requests around it; default: half the CPUs, at least one
    password_hash_concurrency: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1)
    flow_http_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    flow_http_allowed_private_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    flow_execution_ttl_hours: int = Field(default=72, ge=1)
    # every this many hours the worker re-reads the templates of every active number's WABA (0: never; a divisor
    # of 24 keeps the times of day fixed)
    template_sync_hours: int = Field(default=6, ge=0, le=24)
    # GET /events: a comment line this often keeps idle streams (and proxies) alive; events a stream may have
    # waiting before it is dropped as too slow (its client reconnects with Last-Event-ID)
    events_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    events_queue_size: int = Field(default=1000, ge=1, le=100_000)
    # GET /metrics: with a token, scrapes need 'Authorization: Bearer <token>'; without one, only loopback clients
    # outside production may scrape (production without a token refuses every scrape)
    metrics_token: SecretStr | None = None
    metrics_cache_seconds: float = Field(default=5.0, ge=0)  # the database gauges are queried at most this often

    @field_validator("cors_origins", "flow_http_allowed_hosts", "flow_http_allowed_private_hosts", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [o.strip() for o in text.split(",") if o.strip()]
        return value


def _dev_secret(path: Path, make: Callable[[], str]) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value


def load_settings(**overrides: object) -> Settings:
    """Build settings; generate development secrets under DATA_DIR; refuse them in production."""
    settings = Settings(**overrides)  # type: ignore[arg-type]
    secrets_dir = settings.data_dir / "secrets"
    if settings.env == "production":
        missing = [name for name, value in (
            ("JWT_SECRET", settings.jwt_secret), ("VAULT_MASTER_KEYS", settings.vault_master_keys),
            ("DATABASE_URL", settings.database_url), ("WHATSAPP_APP_SECRET", settings.whatsapp_app_secret),
            ("WHATSAPP_VERIFY_TOKEN", settings.whatsapp_verify_token)) if value is None]
        if missing:
            raise SettingsError(f"ENV=production requires explicit settings: {', '.join(missing)}")
        if len(settings.jwt_secret.get_secret_value()) < 32:  # type: ignore[union-attr]
            raise SettingsError("JWT_SECRET must be at least 32 characters")
        return settings
    if settings.jwt_secret is None:
        settings.jwt_secret = SecretStr(_dev_secret(secrets_dir / "jwt_secret", lambda: secrets.token_urlsafe(48)))
    if settings.vault_master_keys is None:
        settings.vault_master_keys = SecretStr(_dev_secret(
            secrets_dir / "vault_master_keys.json",
            lambda: json.dumps({"1": base64.b64encode(secrets.token_bytes(32)).decode()})))
    if settings.whatsapp_app_secret is None:
        settings.whatsapp_app_secret = SecretStr(_dev_secret(secrets_dir / "whatsapp_app_secret",
                                                             lambda: secrets.token_hex(16)))
    if settings.whatsapp_verify_token is None:
        settings.whatsapp_verify_token = SecretStr(_dev_secret(secrets_dir / "whatsapp_verify_token",
                                                               lambda: secrets.token_urlsafe(24)))
    return settings
