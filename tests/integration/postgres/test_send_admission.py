"""The per-second hard cap: concurrent admissions within one calendar second never exceed the limit."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from adapters.postgres.database import create_engine
from adapters.postgres.repositories.pacing import PostgresSendPacer
from tests.conftest import _plain

pytestmark = pytest.mark.integration


async def test_concurrent_admissions_respect_the_per_second_cap(database_url: str) -> None:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=20, max_overflow=20)
    pacer = PostgresSendPacer(engine)
    key = f"number:{uuid.uuid4()}"
    try:
        # wait for the start of a fresh second so all 120 attempts land in it
        first = await pacer.admit(f"probe:{uuid.uuid4()}", 1)
        assert first == 0.0
        waits = await asyncio.gather(*(pacer.admit(key, 50) for _ in range(120)))
        admitted = sum(1 for w in waits if w == 0.0)
        refused = [w for w in waits if w > 0]
        # the 120 calls may straddle a second boundary: at most 50 per second, so at most 100 over two seconds
        assert 50 <= admitted <= 100
        assert all(0 < w <= 1.0 for w in refused)
        assert admitted + len(refused) == 120
        connection = await asyncpg.connect(_plain(database_url))
        try:
            rows = await connection.fetch("SELECT second, count FROM send_admissions WHERE key = $1", key)
        finally:
            await connection.close()
        assert all(r["count"] <= 50 for r in rows)
        assert sum(r["count"] for r in rows) == admitted
    finally:
        await engine.dispose()
