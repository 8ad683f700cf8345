"""The vault on a real PostgreSQL: plaintext never stored, master-key rotation of 1,000 secrets (never
decrypting, resumable), atomic usage counting under concurrency, the seal check, RLS and the audit log.

The module works in a database of its own: its rows use master key versions the e2e app does not load."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from adapters.clock import SystemClock
from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.vault import AesGcmSecretCipher
from application.authorization import Actor
from application.ports.vault import EncryptedValue, SecretCipher
from application.use_cases.vault.check_vault_seal import CheckVaultSeal
from application.use_cases.vault.create_secret import CreateSecret, CreateSecretCommand
from application.use_cases.vault.resolve_secret import ResolveSecret, ResolveSecretQuery
from application.use_cases.vault.reveal_value import RevealSecretValue
from application.use_cases.vault.rotate_master_key import RotateMasterKey
from application.use_cases.vault.rotate_secret import RotateSecret
from application.use_cases.vault.update_secret import UpdateSecret, UpdateSecretCommand
from domain.identity import Role
from domain.vault import MasterKeyMissing, Secret, SecretAlreadyExists, SecretKey, SecretValue
from tests.conftest import _plain, migrated_database
from tests.integration.postgres.conftest import make_org

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

K1, K2 = os.urandom(32), os.urandom(32)
VAULT_TABLES = ("secrets", "secret_versions", "secret_usage", "vault_audit_events")


@pytest.fixture(scope="module")
async def vault_db(server_url: str) -> AsyncIterator[str]:
    async with migrated_database(server_url, "pytake_vault") as url:
        yield url


@pytest.fixture(scope="module")
async def uow(vault_db: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(vault_db, app_role="pytake_app", pool_size=5)
    yield SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_plain(url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def _actor(organization_id: uuid.UUID, user_id: uuid.UUID) -> Actor:
    return Actor(user_id=user_id, organization_id=organization_id, role=Role.ORG_ADMIN, session_id=uuid.uuid4(),
                 jti="jti", token_expires_at=datetime.now(UTC) + timedelta(minutes=5))


class SpyCipher(SecretCipher):
    def __init__(self, inner: AesGcmSecretCipher) -> None:
        self.inner, self.decrypted, self.rewrapped = inner, 0, 0

    def encrypt(self, **kwargs: Any) -> EncryptedValue:
        return self.inner.encrypt(**kwargs)

    def decrypt(self, **kwargs: Any) -> str:
        self.decrypted += 1
        return self.inner.decrypt(**kwargs)

    def rewrap(self, **kwargs: Any) -> EncryptedValue:
        self.rewrapped += 1
        return self.inner.rewrap(**kwargs)

    @property
    def active_key_version(self) -> int:
        return self.inner.active_key_version

    @property
    def loaded_key_versions(self) -> frozenset[int]:
        return self.inner.loaded_key_versions


async def _bulk_create(uow: SqlAlchemyUnitOfWorkFactory, cipher: SecretCipher, org: uuid.UUID,
                       count: int) -> dict[uuid.UUID, str]:
    values: dict[uuid.UUID, str] = {}
    now = datetime.now(UTC)
    async with uow(org) as work:
        for index in range(count):
            secret = Secret.create(id=uuid.uuid4(), organization_id=org, key=SecretKey(f"BULK_{index}"), now=now)
            values[secret.id] = f"value-{index}-{uuid.uuid4().hex}"
            await work.secrets.add(secret)
            await work.secrets.store_version(secret, 1, cipher.encrypt(
                organization_id=org, secret_id=secret.id, version=1, plaintext=values[secret.id]), now)
        await work.commit()
    return values


async def test_plaintext_is_never_stored(uow: SqlAlchemyUnitOfWorkFactory, vault_db: str) -> None:
    org, user = await make_org(uow)
    actor, clock = _actor(org, user.id), SystemClock()
    cipher = AesGcmSecretCipher({1: K1})
    value = f"CANARY-{uuid.uuid4()}"
    secret = await CreateSecret(uow=uow, cipher=cipher, clock=clock).execute(
        actor, CreateSecretCommand(key="CANARY", value=value, service="whatsapp"))
    reveal = RevealSecretValue(uow=uow, cipher=cipher, clock=clock)
    assert (await reveal.execute(actor, secret.id)).reveal() == value
    await UpdateSecret(uow=uow, cipher=cipher, clock=clock).execute(
        actor, UpdateSecretCommand(secret_id=secret.id, value=value + "-new"))
    await RotateSecret(uow=uow, cipher=cipher, clock=clock).execute(actor, secret.id)
    assert (await reveal.execute(actor, secret.id)).reveal() == value + "-new"
    for table in VAULT_TABLES:
        rows = await _fetch(vault_db, f"SELECT t::text AS row FROM {table} t WHERE organization_id = $1", org)
        assert rows, table
        assert not [r for r in rows if value in r["row"] or value.encode().hex() in r["row"]], table
    versions = await _fetch(vault_db, "SELECT ciphertext FROM secret_versions WHERE secret_id = $1 "
                                      "AND ciphertext IS NOT NULL", secret.id)
    assert len(versions) == 2 and all(value.encode() not in bytes(v["ciphertext"]) for v in versions)


async def test_master_key_rotation_of_1000_secrets_resumes_and_never_decrypts(
        uow: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow)
    values = await _bulk_create(uow, AesGcmSecretCipher({1: K1}), org, 1000)
    spy = SpyCipher(AesGcmSecretCipher({1: K1, 2: K2}))
    rotation = RotateMasterKey(uow=uow, cipher=spy, batch_size=100)
    assert await rotation.pending() >= 1000
    seen: list[tuple[int, int]] = []

    def stop_after_300(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotation.execute(stop_after_300)
    remaining = await rotation.pending()
    assert remaining == seen[0][1] - 300
    report = await rotation.execute()
    assert report.rewrapped == remaining and await rotation.pending() == 0
    assert spy.decrypted == 0 and spy.rewrapped == seen[0][1]

    only_new = AesGcmSecretCipher({2: K2})
    await CheckVaultSeal(uow=uow, cipher=only_new).execute()  # the old key is removable
    async with uow(org) as work:
        for secret_id, value in values.items():
            stored = await work.secrets.load_version(secret_id, 1)
            assert stored is not None and stored.kek_version == 2
            assert only_new.decrypt(organization_id=org, secret_id=secret_id, version=1, value=stored) == value
    with pytest.raises(MasterKeyMissing) as sealed:
        await CheckVaultSeal(uow=uow, cipher=AesGcmSecretCipher({1: K1})).execute()
    assert "2" in sealed.value.message and K2.hex() not in sealed.value.message


async def test_concurrent_resolutions_lose_no_count(uow: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow)
    cipher = AesGcmSecretCipher({1: K1, 2: K2})
    secret = await CreateSecret(uow=uow, cipher=cipher, clock=SystemClock()).execute(
        _actor(org, user.id), CreateSecretCommand(key="HOT", value="hot-value"))
    resolve = ResolveSecret(uow=uow, cipher=cipher, clock=SystemClock())
    results = await asyncio.gather(*(resolve.execute(ResolveSecretQuery(organization_id=org, key="HOT"))
                                     for _ in range(200)))
    assert {r.value.reveal() for r in results} == {"hot-value"}
    async with uow(org) as work:
        usage = await work.secret_usage.get(secret.id)
    assert usage.total_requests == 200 and usage.success_count == 200 and usage.success_rate == 1.0


async def test_tenancy_uniqueness_and_append_only_audit(uow: SqlAlchemyUnitOfWorkFactory, vault_db: str) -> None:
    org, user = await make_org(uow)
    other, _ = await make_org(uow)
    cipher = AesGcmSecretCipher({1: K1, 2: K2})
    create = CreateSecret(uow=uow, cipher=cipher, clock=SystemClock())
    secret = await create.execute(_actor(org, user.id), CreateSecretCommand(key="K", value="v"))
    with pytest.raises(SecretAlreadyExists):
        await create.execute(_actor(org, user.id), CreateSecretCommand(key="K", value="w"))
    async with uow(other) as work:
        assert await work.secrets.get(secret.id) is None
        assert await work.secrets.load_version(secret.id, 1) is None
        assert (await work.secret_usage.list_for_organization(limit=10, offset=0))[1] == 0
    engine = create_engine(vault_db, app_role="pytake_app", pool_size=1)
    try:
        async with engine.connect() as connection:
            from sqlalchemy import text
            from sqlalchemy.exc import DBAPIError

            with pytest.raises(DBAPIError):
                await connection.execute(text("SELECT set_config('pytake.scope', 'system', false)"))
                await connection.execute(text("UPDATE vault_audit_events SET outcome = 'failure'"))
    finally:
        await engine.dispose()
    assert SecretValue("x") != SecretValue("y")
