from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.identity import Organization, Role, User
from tests.conftest import migrated_database


@pytest.fixture(scope="session")
async def uow_factory(database_url: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=5)
    yield SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


@pytest.fixture(scope="module")
async def own_database(server_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh migrated database for the module (named after its ``OWN_DATABASE`` prefix), dropped afterwards:
    for modules that look at whole tables."""
    async with migrated_database(server_url, getattr(request.module, "OWN_DATABASE", "pytake_own")) as url:
        yield url


@pytest.fixture(scope="module")
async def own_factory(own_database: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    """Units of work on :func:`own_database` through the application role (row-level security on)."""
    engine = create_engine(own_database, app_role="pytake_app", pool_size=5)
    yield SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


async def make_org(uow_factory: SqlAlchemyUnitOfWorkFactory) -> tuple[UUID, User]:
    now = datetime.now(UTC)
    org = Organization(id=uuid4(), name="Org", created_at=now, updated_at=now)
    user = User(id=uuid4(), organization_id=org.id, email=f"u-{uuid4().hex[:8]}@example.com", name="U",
                role=Role.ORG_ADMIN, is_active=True, password_hash="h", created_at=now, updated_at=now)
    async with uow_factory(org.id) as uow:
        await uow.organizations.add(org)
        await uow.users.add(user)
        await uow.commit()
    return org.id, user
