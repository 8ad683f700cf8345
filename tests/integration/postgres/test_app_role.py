"""The application role survives a rolled-back first transaction: every pooled connection stays under row-level
security whatever its first unit of work did."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from tests.integration.postgres.conftest import make_org

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


async def test_a_new_connections_first_rollback_keeps_the_application_role(database_url: str) -> None:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=1)
    factory = SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    try:
        org, _ = await make_org(factory)
        await engine.dispose()  # a fresh connection next
        async with factory(org) as uow:  # its first transaction rolls back (no commit)
            assert (await uow.session.execute(text("SELECT current_user"))).scalar_one() == "pytake_app"
        for _ in range(3):  # the same pooled connection, later units of work
            async with factory(org) as uow:
                assert (await uow.session.execute(text("SELECT current_user"))).scalar_one() == "pytake_app"
    finally:
        await engine.dispose()


async def test_a_unit_of_work_keeps_its_tenant_after_a_commit(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    async with uow_factory(org) as uow:
        await uow.commit()  # a use case that commits part of its work (a throttle hit) and reads on
        setting = (await uow.session.execute(text("SELECT current_setting('pytake.org_id', true)"))).scalar_one()
        users = (await uow.session.execute(text("SELECT count(*) FROM users"))).scalar_one()
    assert setting == str(org) and users == 1  # row-level security: its own user, seen after the commit
