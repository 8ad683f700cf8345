"""Maintenance steps the CLI and the supervisor run outside the container: migrations and the master-key file.

Beside :mod:`entrypoints.container`, the only other module allowed to import adapters (import-linter's
``adapters-only-via-composition-root``); it holds no wiring."""

from __future__ import annotations

from adapters.postgres.migrations import upgrade
from adapters.vault.aesgcm_cipher import add_master_key, parse_master_keys


def apply_migrations(database_url: str) -> None:
    """Upgrade the database to the newest migration (synchronous)."""
    upgrade(database_url)


def add_vault_master_key(keys_json: str) -> tuple[str, int]:
    """VAULT_MASTER_KEYS text with a fresh newest version appended: (new text, new version)."""
    return add_master_key(keys_json)


def vault_master_key_versions(keys_json: str) -> list[int]:
    return sorted(parse_master_keys(keys_json))
