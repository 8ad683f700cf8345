"""Master-key re-wrap (never decrypting, resumable) and the seal check, on the fakes."""

from __future__ import annotations

import os
from typing import Any

import pytest

from adapters.vault import AesGcmSecretCipher
from application.ports.vault import EncryptedValue, SecretCipher
from application.use_cases.vault.check_vault_seal import CheckVaultSeal
from application.use_cases.vault.update_secret import UpdateSecretCommand
from domain.vault import MasterKeyMissing
from tests.unit.vault.kit import Vault, actor

K1, K2 = os.urandom(32), os.urandom(32)


class NoDecrypt(SecretCipher):
    def __init__(self, inner: AesGcmSecretCipher) -> None:
        self.inner = inner

    def encrypt(self, **kwargs: Any) -> EncryptedValue:
        return self.inner.encrypt(**kwargs)

    def decrypt(self, **kwargs: Any) -> str:
        raise AssertionError("a re-wrap must never decrypt a value")

    def rewrap(self, **kwargs: Any) -> EncryptedValue:
        return self.inner.rewrap(**kwargs)

    @property
    def active_key_version(self) -> int:
        return self.inner.active_key_version

    @property
    def loaded_key_versions(self) -> frozenset[int]:
        return self.inner.loaded_key_versions


async def test_rewrap_moves_every_live_version_and_resumes_after_an_interruption() -> None:
    vault = Vault(cipher=AesGcmSecretCipher({1: K1}))
    admin = actor()
    ids = [(await vault.secret(admin, key=f"K{i}", value=f"v{i}")).id for i in range(7)]
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=ids[0], value="v0-new"))  # 8 live versions
    await vault.delete.execute(admin, ids[6])  # destroyed versions are skipped: 7 live versions
    rotation = Vault(uow=vault.uow, clock=vault.clock,
                     cipher=NoDecrypt(AesGcmSecretCipher({1: K1, 2: K2}))).rotate_master_key  # batches of 3
    assert await rotation.pending() == 7
    progress: list[tuple[int, int]] = []

    def stop_after_first_batch(done: int, total: int) -> None:
        progress.append((done, total))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await rotation.execute(stop_after_first_batch)
    assert progress == [(3, 7)] and await rotation.pending() == 4
    report = await rotation.execute(lambda done, total: progress.append((done, total)))
    assert report.rewrapped == 4 and report.active_key_version == 2 and progress[1:] == [(3, 4), (4, 4)]
    assert await rotation.pending() == 0

    only_new = Vault(uow=vault.uow, clock=vault.clock, cipher=AesGcmSecretCipher({2: K2}))
    await only_new.seal.execute()
    assert (await only_new.reveal.execute(admin, ids[0])).reveal() == "v0-new"
    assert (await only_new.reveal.execute(admin, ids[5])).reveal() == "v5"
    status = await only_new.describe.execute()
    assert status.kek_versions_in_use == {2} and status.versions_below_active == 0


async def test_seal_check_names_missing_versions_only() -> None:
    vault = Vault(cipher=AesGcmSecretCipher({2: K2}))
    await vault.secret(actor())
    await vault.seal.execute()
    with pytest.raises(MasterKeyMissing) as sealed:
        await CheckVaultSeal(uow=vault.uow, cipher=AesGcmSecretCipher({1: K1})).execute()
    assert "version(s) 2" in sealed.value.message and K1.hex() not in sealed.value.message
    status = await Vault(uow=vault.uow, cipher=AesGcmSecretCipher({1: K1, 2: K2})).describe.execute()
    assert status.removable_key_versions == {1}
