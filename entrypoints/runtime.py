"""Process-level helpers shared by the API, the worker and the CLI."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from entrypoints.config import Settings
from entrypoints.embedded_db import start_embedded_postgres


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded PostgreSQL under DATA_DIR when it is unset."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)


async def provided(value: Any) -> Any:
    """A provider's product: dependency-injector answers with an awaitable once a dependency chain holds an
    async resource."""
    return await value if inspect.isawaitable(value) else value


async def provide(provider: Callable[[], Any]) -> Any:
    """Resolve a container provider (see :func:`provided`)."""
    return await provided(provider())
