"""Engine and session factory; the application connects as a role row-level security applies to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from adapters.postgres.errors import is_broken_connection


def asyncpg_url(url: str) -> str:
    """Accept postgresql:// or postgres:// URLs and select the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"}:
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def asyncpg_dsn(url: str) -> str:
    """The same server as a plain ``postgresql://`` DSN, for asyncpg connections made without SQLAlchemy."""
    return make_url(asyncpg_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, *, app_role: str | None, pool_size: int = 10, max_overflow: int = 10,
                  pre_ping: bool = True, echo: bool = False) -> AsyncEngine:
    """``pre_ping=False`` saves a round trip per checkout: a connection the server dropped then fails its first
    statement (the caller sees DatabaseUnavailable once) and SQLAlchemy invalidates the whole pool with it.

    ``hide_parameters``: an error keeps its SQL but never the values bound to it (phone numbers, emails,
    flow graphs), so a logged exception cannot carry them."""
    engine = create_async_engine(asyncpg_url(url), pool_size=pool_size, max_overflow=max_overflow,
                                 pool_pre_ping=pre_ping, echo=echo, pool_recycle=1800, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _broken_connection(context: Any) -> None:
        # asyncpg leaves a connection whose socket dropped mid-operation in a state where the next call fails
        # with InternalClientError ("cannot switch to state ..."), which SQLAlchemy does not count as a
        # disconnect; counting it makes SQLAlchemy discard the connection (and the pool) instead of reusing it
        if not context.is_disconnect and is_broken_connection(context.original_exception):
            context.is_disconnect = True

    if app_role:

        @event.listens_for(engine.sync_engine, "connect")
        def _set_role(dbapi_connection: Any, _record: Any) -> None:
            # the adapted asyncpg connection opens a transaction for this statement: commit it, or the first
            # unit of work that rolls back on this connection would undo the SET ROLE and leave the connection
            # running as the login role (which bypasses row-level security)
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET ROLE "{app_role}"')
            cursor.close()
            dbapi_connection.commit()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
