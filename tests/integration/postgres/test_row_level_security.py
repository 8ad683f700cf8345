"""Row-level security is a second wall: the application role sees only the tenant it set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.conftest import _plain

pytestmark = pytest.mark.integration


async def _seed(connection: asyncpg.Connection, org: uuid.UUID, whatsapp_id: str) -> None:
    now = datetime.now(UTC)
    await connection.execute("INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, 'o', $2, $2)",
                             org, now)
    await connection.execute(
        "INSERT INTO contacts (id, organization_id, whatsapp_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        uuid.uuid4(), org, whatsapp_id, now)


async def test_app_role_sees_nothing_without_tenant_and_only_its_tenant_with_it(database_url: str) -> None:
    owner = await asyncpg.connect(_plain(database_url))
    org_a, org_b = uuid.uuid4(), uuid.uuid4()
    try:
        await _seed(owner, org_a, "5511900000001")
        await _seed(owner, org_b, "5511900000002")
        async with owner.transaction():
            await owner.execute("SET LOCAL ROLE pytake_app")
            assert await owner.fetchval("SELECT count(*) FROM contacts WHERE organization_id = ANY($1)",
                                        [org_a, org_b]) == 0
            assert await owner.fetchval("SELECT count(*) FROM organizations WHERE id = ANY($1)", [org_a, org_b]) == 0
        async with owner.transaction():
            await owner.execute("SET LOCAL ROLE pytake_app")
            await owner.execute("SELECT set_config('pytake.org_id', $1, true)", str(org_a))
            rows = await owner.fetch("SELECT organization_id FROM contacts WHERE organization_id = ANY($1)",
                                     [org_a, org_b])
            assert {r["organization_id"] for r in rows} == {org_a}
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await owner.execute(
                    "INSERT INTO contacts (id, organization_id, whatsapp_id, created_at, updated_at)"
                    " VALUES ($1, $2, '5511900000003', now(), now())", uuid.uuid4(), org_b)
        async with owner.transaction():
            await owner.execute("SET LOCAL ROLE pytake_app")
            await owner.execute("SELECT set_config('pytake.org_id', $1, true)", str(org_a))
            updated = await owner.execute("UPDATE contacts SET name = 'x' WHERE organization_id = $1", org_b)
            assert updated == "UPDATE 0"
        async with owner.transaction():
            await owner.execute("SET LOCAL ROLE pytake_app")
            await owner.execute("SELECT set_config('pytake.scope', 'system', true)")
            assert await owner.fetchval("SELECT count(*) FROM contacts WHERE organization_id = ANY($1)",
                                        [org_a, org_b]) == 2
    finally:
        await owner.close()
