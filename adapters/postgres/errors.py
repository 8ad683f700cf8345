"""Translate driver errors into the application's typed errors.

Named constraints become domain errors in one place, :data:`CONSTRAINT_TO_ERROR`; repositories write through
:func:`execute_translated` and never inspect an ``IntegrityError`` themselves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channel import WhatsAppNumberAlreadyRegistered
from domain.contacts import ContactAlreadyExists
from domain.errors import DomainError
from domain.flows.records import ExecutionAlreadyRunning
from domain.identity import EmailAlreadyRegistered
from domain.vault import SecretAlreadyExists

CONSTRAINT_TO_ERROR: Mapping[str, Callable[[], DomainError]] = {
    "contacts_org_whatsapp_id_key": ContactAlreadyExists,
    "contacts_org_bsuid_key": ContactAlreadyExists,
    "users_email_key": EmailAlreadyRegistered,
    "whatsapp_numbers_org_phone_number_id_key": WhatsAppNumberAlreadyRegistered,
    "whatsapp_numbers_proven_phone_number_id_key": WhatsAppNumberAlreadyRegistered,
    "secrets_org_key_env_service_key": SecretAlreadyExists,
    "flow_executions_one_running": ExecutionAlreadyRunning,
}


def constraint_name(error: IntegrityError) -> str | None:
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(error.orig, "constraint_name", None)
    return str(name) if name else None


async def execute_translated(session: AsyncSession, statement: Any) -> Any:
    """Run ``statement`` in a savepoint: the violation of a constraint named in :data:`CONSTRAINT_TO_ERROR`
    raises its domain error and leaves the transaction usable; any other error propagates as it is."""
    try:
        async with session.begin_nested():
            return await session.execute(statement)
    except IntegrityError as e:
        error = CONSTRAINT_TO_ERROR.get(constraint_name(e) or "")
        if error is None:
            raise
        raise error() from None


_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004", "53300"}


_BROKEN = {"InternalClientError", "ConnectionDoesNotExistError", "CannotConnectNowError", "ConnectionResetError",
           "ConnectionRefusedError", "BrokenPipeError"}


def is_broken_connection(error: BaseException | None) -> bool:
    """True when ``error`` (or what caused it) says the driver's connection itself is unusable."""
    seen = 0
    while error is not None and seen < 8:
        if type(error).__name__ in _BROKEN or (
                type(error).__name__ == "InterfaceError" and "connection is closed" in str(error)):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def is_connection_problem(error: BaseException) -> bool:
    """True for errors that mean the database cannot be reached right now."""
    if isinstance(error, (ConnectionError, OSError, TimeoutError)):
        return True
    if getattr(error, "sqlstate", None) in _UNAVAILABLE_SQLSTATES:  # the driver's own error, unwrapped
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        cause = getattr(error.orig, "__cause__", None)
        sqlstate = getattr(cause, "sqlstate", None) or getattr(error.orig, "sqlstate", None)
        if sqlstate in _UNAVAILABLE_SQLSTATES:
            return True
        return isinstance(cause, (ConnectionError, OSError)) or "connection" in type(cause).__name__.lower()
    return type(error).__name__ == "InterfaceError" or is_broken_connection(error)


_CONFLICT_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure


def is_transaction_conflict(error: BaseException) -> bool:
    """True when PostgreSQL aborted the transaction to resolve a conflict with another one."""
    if isinstance(error, DBAPIError):
        cause = getattr(error.orig, "__cause__", None)
        return (getattr(cause, "sqlstate", None) or getattr(error.orig, "sqlstate", None)) in _CONFLICT_SQLSTATES
    return False
