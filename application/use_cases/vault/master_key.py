"""Operator side of the vault: master-key re-wrap, the seal check and a status report.

``RotateMasterKey`` moves every live data key to the active master key in batches (each its own
transaction, rows locked FOR UPDATE SKIP LOCKED so two runs never fight), without ever decrypting a
value: only the wrapped data key changes. Interrupted, it resumes where it stopped, since it only
looks at rows still below the active version. ``CheckVaultSeal`` refuses to run (MasterKeyMissing,
naming version numbers only) when a stored row needs a master key version that is not loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher
from domain.vault import MasterKeyMissing

log = structlog.get_logger("pytake.vault")

Progress = Callable[[int, int], None]  # (re-wrapped so far, total when the run started)


@dataclass(frozen=True, slots=True)
class RewrapReport:
    rewrapped: int
    active_key_version: int


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


class RotateMasterKey:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, batch_size: int = 500) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._uow, self._cipher, self._batch = uow, cipher, batch_size

    async def pending(self) -> int:
        async with self._uow(None) as uow:
            return await uow.secrets.count_versions_below(self._cipher.active_key_version)

    async def execute(self, progress: Progress | None = None) -> RewrapReport:
        active = self._cipher.active_key_version
        total = await self.pending()
        done = 0
        while True:
            async with self._uow(None) as uow:
                rows = await uow.secrets.versions_below(active, self._batch)
                if not rows:
                    break
                for row in rows:
                    rewrapped = self._cipher.rewrap(organization_id=row.organization_id, secret_id=row.secret_id,
                                                    version=row.version, value=row.value)
                    await uow.secrets.rewrap_version(row, rewrapped)
                await uow.commit()
            done += len(rows)
            log.info("vault.rewrap_batch", rewrapped=done, total=total, active_key_version=active)
            if progress is not None:
                progress(done, max(total, done))
        return RewrapReport(rewrapped=done, active_key_version=active)


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
