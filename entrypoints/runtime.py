"""Process-level helpers shared by the API, the worker and the CLI."""

from __future__ import annotations

from entrypoints.config import Settings
from entrypoints.embedded_db import start_embedded_postgres


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL, or an embedded PostgreSQL under DATA_DIR when it is unset."""
    if settings.database_url:
        return settings.database_url
    return start_embedded_postgres(settings.data_dir)
