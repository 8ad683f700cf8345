"""Run a multi-statement SQL script inside an Alembic migration (asyncpg's simple query protocol)."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def run_script(sql: str) -> None:
    driver_connection = op.get_bind().connection.driver_connection
    assert driver_connection is not None
    await_only(driver_connection.execute(sql))


APP_ROLE = "pytake_app"


def grant_app_role(*tables: str) -> None:
    """Explicit grants on a migration's tables (default privileges only cover the role that set them)."""
    for table in tables:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
