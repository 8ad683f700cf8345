"""The operator commands `pytake rotate-master-key` and `pytake vault-status` on a database of their own."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.migrations import upgrade
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.vault import AesGcmSecretCipher, parse_master_keys
from tests.conftest import _admin, _with_database
from tests.integration.postgres.conftest import make_org
from tests.integration.postgres.test_vault_repository import _bulk_create

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

K1 = os.urandom(32)


@pytest.fixture
async def cli_db(server_url: str) -> AsyncIterator[str]:
    name = f"pytake_vault_cli_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    await asyncio.to_thread(upgrade, url)
    yield url
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _invoke(args: list[str], env: dict[str, str]) -> Any:
    from typer.testing import CliRunner

    from entrypoints.cli import app as cli

    return await asyncio.to_thread(lambda: CliRunner().invoke(cli, args, env=env))


async def _seed(url: str, count: int) -> dict[uuid.UUID, str]:
    engine = create_engine(url, app_role="pytake_app", pool_size=2)
    try:
        uow = SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
        org, _ = await make_org(uow)
        return await _bulk_create(uow, AesGcmSecretCipher({1: K1}), org, count)
    finally:
        await engine.dispose()


async def test_rotate_master_key_with_the_development_keys_file(cli_db: str, tmp_path: Path) -> None:
    keys_file = tmp_path / "secrets" / "vault_master_keys.json"
    keys_file.parent.mkdir(parents=True)
    keys_file.write_text(json.dumps({"1": base64.b64encode(K1).decode()}))
    await _seed(cli_db, 25)
    env = {"DATABASE_URL": cli_db, "DATA_DIR": str(tmp_path), "ENV": "test", "LOG_LEVEL": "WARNING"}
    result = await _invoke(["rotate-master-key", "--batch-size", "10"], env)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "added master key version 2" in result.output and "re-wrapped 25 data key(s)" in result.output
    assert "version(s) [1] can now be removed" in result.output
    keys = parse_master_keys(keys_file.read_text())
    assert sorted(keys) == [1, 2] and keys[1] == K1 and oct(keys_file.stat().st_mode & 0o777) == "0o600"
    status = await _invoke(["vault-status"], env)
    assert status.exit_code == 0 and "master key versions in use: [2]" in status.output
    assert base64.b64encode(keys[2]).decode() not in status.output + result.output
    keys_file.write_text(json.dumps({"1": base64.b64encode(K1).decode()}))  # version 2 lost: sealed
    sealed = await _invoke(["vault-status"], env)
    assert sealed.exit_code == 1 and "missing master key version(s) [2]" in sealed.output


async def test_rotate_master_key_with_keys_from_the_environment(cli_db: str, tmp_path: Path) -> None:
    await _seed(cli_db, 5)
    current = json.dumps({"1": base64.b64encode(K1).decode()})
    env = {"DATABASE_URL": cli_db, "DATA_DIR": str(tmp_path), "ENV": "test", "LOG_LEVEL": "WARNING",
           "VAULT_MASTER_KEYS": current}
    pending = await _invoke(["rotate-master-key"], env)
    assert pending.exit_code == 2 and "--resume" in pending.output
    printed = next(line for line in pending.output.splitlines() if line.startswith("{"))
    assert sorted(parse_master_keys(printed)) == [1, 2]
    target = tmp_path / "new_keys.json"
    written = await _invoke(["rotate-master-key", "--keys-file", str(target)], env)
    assert written.exit_code == 0, (written.output, written.exception)
    assert "re-wrapped 5 data key(s)" in written.output and sorted(parse_master_keys(target.read_text())) == [1, 2]
    resumed = await _invoke(["rotate-master-key", "--resume"], {**env, "VAULT_MASTER_KEYS": target.read_text()})
    assert resumed.exit_code == 0 and "re-wrapped 0 data key(s)" in resumed.output


async def test_api_and_worker_refuse_to_start_when_a_master_key_version_is_missing(cli_db: str,
                                                                                    tmp_path: Path) -> None:
    from asgi_lifespan import LifespanManager

    from domain.vault import MasterKeyMissing
    from entrypoints.config import load_settings
    from entrypoints.http.app import create_app
    from entrypoints.worker.main import run_worker

    await _seed(cli_db, 1)  # rows under master key version 1
    other_key = base64.b64encode(os.urandom(32)).decode()
    settings = load_settings(env="test", data_dir=tmp_path, log_level="WARNING",
                             vault_master_keys=json.dumps({"2": other_key}))
    with pytest.raises(MasterKeyMissing) as api_refused:
        async with LifespanManager(create_app(settings, database_url=cli_db)):
            pass
    assert "version(s) 1" in api_refused.value.message and other_key not in api_refused.value.message
    with pytest.raises(MasterKeyMissing):
        await run_worker(settings, cli_db)
    fine = load_settings(env="test", data_dir=tmp_path, log_level="WARNING",
                         vault_master_keys=json.dumps({"1": base64.b64encode(K1).decode(), "2": other_key}))
    async with LifespanManager(create_app(fine, database_url=cli_db)):
        pass
