"""Alembic stairway: every revision upgrades, downgrades and upgrades again on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from adapters.postgres.migrations import all_revisions, downgrade, upgrade
from tests.conftest import _admin, _plain, _with_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def empty_database(server_url: str):  # type: ignore[no-untyped-def]
    name = f"pytake_stairway_{uuid.uuid4().hex[:8]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    yield _with_database(server_url, name)
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _tables(url: str) -> set[str]:
    connection = await asyncpg.connect(_plain(url))
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await connection.close()


async def _schema(url: str) -> set[str]:
    """Tables, columns, indexes and functions: a revision may add only a column, an index or a function."""
    connection = await asyncpg.connect(_plain(url))
    try:
        columns = await connection.fetch("SELECT table_name || '.' || column_name AS name FROM "
                                         "information_schema.columns WHERE table_schema = 'public'")
        indexes = await connection.fetch("SELECT indexdef AS name FROM pg_indexes WHERE schemaname = 'public'")
        functions = await connection.fetch("SELECT 'function ' || p.oid::regprocedure::text AS name FROM pg_proc p "
                                           "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' "
                                           # an extension's own functions (pg_trgm where the server has it) are
                                           # the extension's, which a downgrade leaves installed
                                           "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid "
                                           "AND d.deptype = 'e')")
        names = {r["name"] for r in [*columns, *indexes, *functions]} | await _tables(url)
        return {name for name in names if "alembic_version" not in name}
    finally:
        await connection.close()


async def test_stairway_upgrade_downgrade_upgrade_each_revision(empty_database: str) -> None:
    previous, before = "base", await _schema(empty_database)
    for revision in all_revisions():
        await asyncio.to_thread(upgrade, empty_database, revision)
        after_upgrade = await _schema(empty_database)
        await asyncio.to_thread(downgrade, empty_database, previous)
        after_downgrade = await _schema(empty_database)
        assert after_downgrade != after_upgrade or previous == "base", revision
        assert after_downgrade == before, f"{revision} does not downgrade to {previous}'s schema"
        await asyncio.to_thread(upgrade, empty_database, revision)
        assert await _schema(empty_database) == after_upgrade
        before = after_upgrade
        previous = revision
    await asyncio.to_thread(downgrade, empty_database, "base")
    assert await _tables(empty_database) <= {"alembic_version"}


async def _policies(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(_plain(url))
    try:
        rows = await connection.fetch("SELECT tablename, qual, with_check FROM pg_policies "
                                      "WHERE policyname = 'tenant_isolation'")
        assert all(r["qual"] == r["with_check"] for r in rows)
        return {r["tablename"]: r["qual"] for r in rows}
    finally:
        await connection.close()


async def test_tenant_policies_read_the_tenant_once_per_statement_and_come_back_on_downgrade(
        empty_database: str) -> None:
    await asyncio.to_thread(upgrade, empty_database, "0017_send_breakers")  # the revision before 0018
    before = await _policies(empty_database)
    assert len(before) >= 15 and all(q.startswith("pytake_tenant_visible(") for q in before.values())
    await asyncio.to_thread(upgrade, empty_database, "0018_fast_reads")
    after = await _policies(empty_database)
    assert set(after) == set(before)
    for table, qual in after.items():  # uncorrelated sub-selects (InitPlans), on the same column
        column = before[table].removeprefix("pytake_tenant_visible(").removesuffix(")")
        assert "pytake_tenant_visible" not in qual and f"OR ({column} = ( SELECT" in qual, (table, qual)
    await asyncio.to_thread(downgrade, empty_database, "0017_send_breakers")
    assert await _policies(empty_database) == before
    await asyncio.to_thread(downgrade, empty_database, "base")
