"""Operator side of the vault: the seal check. It refuses to run (MasterKeyMissing, naming version
numbers only) when a stored row needs a master key version that is not loaded."""

from __future__ import annotations

import structlog

from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.describe_vault import DescribeVault, VaultStatus
from domain.vault import MasterKeyMissing

log = structlog.get_logger("pytake.vault")


class CheckVaultSeal:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher) -> None:
        self._uow, self._cipher = uow, cipher

    async def execute(self) -> VaultStatus:
        status = await DescribeVault(uow=self._uow, cipher=self._cipher).execute()
        missing = sorted(status.missing_key_versions)
        if missing:
            log.error("vault.sealed", missing_key_versions=missing,
                      loaded_key_versions=sorted(status.loaded_key_versions))
            raise MasterKeyMissing(
                f"The vault is sealed: stored secrets need master key version(s) {', '.join(map(str, missing))}, "
                "which VAULT_MASTER_KEYS does not hold.")
        return status
