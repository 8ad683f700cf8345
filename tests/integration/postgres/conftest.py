from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.identity import Organization, Role, User


@pytest.fixture(scope="session")
async def uow_factory(database_url: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=5)
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
