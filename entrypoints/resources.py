"""Resources and small factories the container wires: the database engine, mail, the vault cipher, HTTP clients.

Beside :mod:`entrypoints.container` (the wiring) and :mod:`entrypoints.maintenance`, the only modules allowed to
import adapters (import-linter's ``adapters-only-via-composition-root``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.mail.mailers import MailboxDirectoryMailer, SmtpMailer
from adapters.postgres.database import asyncpg_dsn, create_engine
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.vault.aesgcm_cipher import AesGcmSecretCipher, parse_master_keys
from application.ports.common import Mailer
from application.use_cases.vault.check_vault_seal import CheckVaultSeal
from entrypoints.config import Settings


async def engine_resource(database_url: str, app_role: str, pool_size: int,
                          pre_ping: bool) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, app_role=app_role or None, pool_size=pool_size, pre_ping=pre_ping)
    try:
        yield engine
    finally:
        await engine.dispose()


def plain_dsn(url: str) -> str:
    """asyncpg's own DSN (no SQLAlchemy driver suffix) for the pools the adapters open themselves."""
    return asyncpg_dsn(url)


def mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
                          username=settings.smtp_username, password=password, starttls=settings.smtp_starttls)
    return MailboxDirectoryMailer(Path(settings.data_dir) / "mailbox")


def secret_text(value: object) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def vault_cipher(settings: Settings) -> AesGcmSecretCipher:
    """The envelope cipher over VAULT_MASTER_KEYS (errors name versions only, never key material)."""
    return AesGcmSecretCipher(parse_master_keys(secret_text(settings.vault_master_keys or "")))


async def flow_http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The client of flows' http_request nodes: never follows redirects (timeouts are set per call)."""
    client = httpx.AsyncClient(follow_redirects=False, trust_env=False,
                               limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
    try:
        yield client
    finally:
        await client.aclose()


async def vault_http_client() -> AsyncIterator[httpx.AsyncClient]:
    """The client of the vault's ``whatsapp_token`` test: 3 s to connect, 10 s in all, no redirects."""
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0), follow_redirects=False)
    try:
        yield client
    finally:
        await client.aclose()


async def check_vault_seal(uow: SqlAlchemyUnitOfWorkFactory, cipher: AesGcmSecretCipher) -> None:
    """Raise MasterKeyMissing (naming version numbers only) when a stored row needs an unloaded master key."""
    await CheckVaultSeal(uow=uow, cipher=cipher).execute()
