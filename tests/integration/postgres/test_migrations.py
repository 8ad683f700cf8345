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
                                           "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'")
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
