"""Operator side of the vault: master-key re-wrap.

``RotateMasterKey`` moves every live data key to the active master key in batches (each its own
transaction, rows locked FOR UPDATE SKIP LOCKED so two runs never fight), without ever decrypting a
value: only the wrapped data key changes. Interrupted, it resumes where it stopped, since it only
looks at rows still below the active version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog

from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher

log = structlog.get_logger("pytake.vault")


Progress = Callable[[int, int], None]  # (re-wrapped so far, total when the run started)


@dataclass(frozen=True, slots=True)
class RewrapReport:
    rewrapped: int
    active_key_version: int


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
