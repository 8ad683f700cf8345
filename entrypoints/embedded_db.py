"""An embedded PostgreSQL (the pgserver wheel) under DATA_DIR when DATABASE_URL is unset."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog

log = structlog.get_logger("pytake.embedded_db")

DATABASE_NAME = "pytake"


class EmbeddedDatabaseUnavailable(RuntimeError):
    """DATABASE_URL is unset and the `embedded` extra (pgserver) is not installed, as in the container image."""


def start_embedded_postgres(data_dir: Path, *, database: str = DATABASE_NAME, stop_on_exit: bool = True) -> str:
    """Start (or reuse) the embedded server; returns a postgresql:// URL over its Unix socket."""
    import logging

    try:
        import pgserver  # imported lazily: only development and tests use it (the `embedded` extra)
    except ImportError as missing:
        raise EmbeddedDatabaseUnavailable(
            "DATABASE_URL is unset and the embedded PostgreSQL is not installed: set DATABASE_URL to a PostgreSQL "
            "server (postgresql://user:password@host:5432/pytake), or install the extra with "
            "pip install 'pytake[embedded]' (make run and make test do)") from missing

    logging.getLogger("pgserver").setLevel(logging.WARNING)

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(pgdata.parent))
    mode = "stop" if stop_on_exit else None
    server: Any = pgserver.get_server(pgdata, cleanup_mode=mode)  # type: ignore[attr-defined]
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    socket_dir = quote(str(pgdata), safe="")
    url = f"postgresql://postgres@/{database}?host={socket_dir}"
    log.info("embedded_postgres.ready", data_dir=str(pgdata))
    return url
