"""Operator side of the vault: a status report of the master key versions loaded and in use."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher


@dataclass(frozen=True, slots=True)
class VaultStatus:
    active_key_version: int
    loaded_key_versions: frozenset[int]
    kek_versions_in_use: frozenset[int]
    versions_below_active: int

    @property
    def missing_key_versions(self) -> frozenset[int]:
        return self.kek_versions_in_use - self.loaded_key_versions

    @property
    def removable_key_versions(self) -> frozenset[int]:
        """Loaded versions no stored row needs any more (safe to remove from VAULT_MASTER_KEYS)."""
        return self.loaded_key_versions - self.kek_versions_in_use - {self.active_key_version}


class DescribeVault:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher) -> None:
        self._uow, self._cipher = uow, cipher

    async def execute(self) -> VaultStatus:
        async with self._uow(None) as uow:
            in_use = await uow.secrets.kek_versions_in_use()
            below = await uow.secrets.count_versions_below(self._cipher.active_key_version)
        return VaultStatus(active_key_version=self._cipher.active_key_version,
                           loaded_key_versions=self._cipher.loaded_key_versions, kek_versions_in_use=in_use,
                           versions_below_active=below)
