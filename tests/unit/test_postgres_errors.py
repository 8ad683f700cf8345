"""Which driver errors mean "the connection is unusable" (pure classification of real asyncpg exception types)."""

from __future__ import annotations

import asyncpg
import pytest

from adapters.postgres.errors import is_broken_connection, is_connection_problem

pytestmark = pytest.mark.unit


def _wrapped(inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as error:
            raise RuntimeError("adapter error") from error
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.exceptions.InterfaceError("connection is closed"),
    ConnectionResetError(104, "Connection reset by peer"),
])
def test_a_dropped_or_confused_connection_is_broken_directly_or_as_a_cause(error: BaseException) -> None:
    assert is_broken_connection(error)
    assert is_broken_connection(_wrapped(error))
    assert is_connection_problem(error)


@pytest.mark.parametrize("error", [
    asyncpg.exceptions.UniqueViolationError("duplicate key"),
    asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"),
    ValueError("bad input"),
])
def test_ordinary_errors_are_not_broken_connections(error: BaseException) -> None:
    assert not is_broken_connection(error)
    assert not is_broken_connection(_wrapped(error))
    assert not is_broken_connection(None)
