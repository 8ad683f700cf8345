"""A statement that fails on the real PostgreSQL never carries its parameters into the exception text."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.postgres.database import create_engine

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


async def test_a_failed_statement_hides_its_parameters(database_url: str) -> None:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=1)
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as failed:
                await connection.execute(text("SELECT 1 / 0 WHERE :phone <> :email"),
                                         {"phone": "5511900001234", "email": "canary-param@leak.example"})
    finally:
        await engine.dispose()
    message = str(failed.value)
    assert "division by zero" in message and "SELECT 1 / 0" in message  # still useful ...
    assert "5511900001234" not in message and "canary-param" not in message  # ... without the values
