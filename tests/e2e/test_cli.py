"""Operator CLI commands run as real processes against the test database."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import PASSWORD, login, register, unique_email

pytestmark = pytest.mark.e2e


async def _cli(database_url: str, data_dir: Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, DATABASE_URL=database_url, DATA_DIR=str(data_dir), LOG_LEVEL="WARNING")
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "entrypoints.cli", *args, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_create_superadmin_then_act_in_another_organization(client: httpx.AsyncClient, database_url: str,
                                                                  tmp_path: Path) -> None:
    email = unique_email("root")
    code, output = await _cli(database_url, tmp_path, "create-superadmin", "--email", email, "--password", PASSWORD)
    assert code == 0, output
    assert f"created super_admin {email}" in output
    root = await login(client, email)
    assert root.user["role"] == "super_admin"
    tenant = await register(client)
    created = await client.post("/api/v1/contacts", headers={**tenant.headers}, json={"whatsapp_id": "5511933334444"})
    assert created.status_code == 201
    as_tenant = {**root.headers, "X-Organization-ID": tenant.organization_id}
    listed = await client.get("/api/v1/contacts", headers=as_tenant)
    assert [c["whatsapp_id"] for c in listed.json()] == ["5511933334444"]
    own = await client.get("/api/v1/contacts", headers=root.headers)
    assert own.json() == []

    code, output = await _cli(database_url, tmp_path, "create-superadmin", "--email", email, "--password", PASSWORD)
    assert code == 0 and "promoted super_admin" in output


async def test_migrate_command_is_idempotent(database_url: str, tmp_path: Path) -> None:
    code, output = await _cli(database_url, tmp_path, "migrate")
    assert code == 0, output
    assert "newest migration" in output
