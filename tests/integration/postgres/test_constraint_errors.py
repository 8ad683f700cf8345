"""The adapter's constraint table names constraints that exist, and each becomes its domain error."""

from __future__ import annotations

import pytest

from adapters.postgres.errors import CONSTRAINT_TO_ERROR
from domain.errors import Conflict
from tests.e2e.support import fetch

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


async def test_every_named_constraint_exists_in_the_migrated_schema(database_url: str) -> None:
    rows = await fetch(database_url, "SELECT conname AS name FROM pg_constraint UNION "
                                     "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
    assert set(CONSTRAINT_TO_ERROR) <= {r["name"] for r in rows}


def test_each_constraint_maps_to_a_conflict_with_its_own_code() -> None:
    for name, error in CONSTRAINT_TO_ERROR.items():
        made = error()
        assert isinstance(made, Conflict), name
        assert made.code and made.code != Conflict.code, name
