"""Contract tests: the same cases run against each fake repository and its PostgreSQL adapter.

A test asks for ``backend`` (parametrized ``fake`` / ``postgres``) and builds its unit-of-work factory with
:func:`factory_for`, which picks the fake that carries the repository under test or the real adapter on the
session's migrated database. A fake that drifts from the database (ordering, case rules, tenancy, duplicates,
rollback) fails here beside the adapter it imitates."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID, uuid4

import pytest

from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.uow import UnitOfWorkFactory
from domain.identity import Organization
from tests.fakes import FakeUnitOfWorkFactory
from tests.fakes_channel import FakeChannelUnitOfWorkFactory
from tests.fakes_flows import FakeFlowUnitOfWorkFactory
from tests.fakes_vault import FakeVaultUnitOfWorkFactory

Backend = Literal["fake", "postgres"]
Family = Literal["identity", "flows", "vault", "channel"]

_FAKES: dict[Family, type[Any]] = {
    "identity": FakeUnitOfWorkFactory,  # organizations, users, sessions, contacts, contact imports
    "flows": FakeFlowUnitOfWorkFactory,
    "vault": FakeVaultUnitOfWorkFactory,
    "channel": FakeChannelUnitOfWorkFactory,  # numbers, conversations, messages, contacts
}


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

    def factory_for(self, family: Family) -> UnitOfWorkFactory:
        if self.postgres is not None:
            return self.postgres
        fake: UnitOfWorkFactory = _FAKES[family]()
        return fake

    async def organization(self, factory: UnitOfWorkFactory) -> UUID:
        """A new organization's id; rows need theirs to exist (the database's foreign keys, the identity fake's
        check)."""
        org_id = uuid4()
        if self.backend == "postgres" or isinstance(factory, FakeUnitOfWorkFactory):
            now = datetime.now(UTC)
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
