"""Contract tests: the same cases run against the fake repositories and their PostgreSQL adapters.

A test asks for ``stores`` (parametrized ``fake`` / ``postgres``) and builds its unit-of-work factory with
``stores.factory()``: the one fake unit of work, or the real adapter on the session's migrated database. A fake
that drifts from the database (ordering, case rules, tenancy, duplicates, rollback) fails here beside the
adapter it imitates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

import pytest

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.uow import UnitOfWorkFactory
from domain.identity import Organization
from tests.fake_uow import FakeUnitOfWorkFactory

Backend = Literal["fake", "postgres"]


@pytest.fixture(scope="session")
async def pg_uow_factory(database_url: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=4)
    yield SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    await engine.dispose()


@dataclass
class Stores:
    """What a contract test works with: a unit-of-work factory and a way to make organizations in it."""

    backend: Backend
    postgres: UnitOfWorkFactory | None = None

    def factory(self) -> UnitOfWorkFactory:
        """The real adapter on the session's database, or a new fake unit of work."""
        return self.postgres if self.postgres is not None else FakeUnitOfWorkFactory()

    async def organization(self, factory: UnitOfWorkFactory) -> UUID:
        """A new organization's id; rows need theirs to exist (foreign keys; the fake checks users' too)."""
        org_id, now = uuid4(), datetime.now(UTC)
        async with factory(org_id) as uow:
            await uow.organizations.add(Organization(id=org_id, name=f"Org {org_id.hex[:6]}", created_at=now,
                                                     updated_at=now))
            await uow.commit()
        return org_id


@pytest.fixture(params=["fake", "postgres"])
def stores(request: pytest.FixtureRequest) -> Stores:
    backend: Backend = request.param
    if backend == "fake":
        return Stores(backend=backend)
    request.applymarker(pytest.mark.postgres)
    return Stores(backend=backend, postgres=request.getfixturevalue("pg_uow_factory"))
