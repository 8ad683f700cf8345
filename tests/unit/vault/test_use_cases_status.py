"""Rotate (re-key / new value), activate and deactivate on the fakes."""

from __future__ import annotations

import pytest

from application.use_cases.vault.update_secret import UpdateSecretCommand
from domain.vault import RotationInProgress, SecretInactive, SecretStatus
from tests.unit.vault.kit import Vault, actor


async def test_rotate_without_value_rekeys_the_same_value() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="same")
    before = vault.uow.store.secret_versions[(secret.id, 1)].value
    vault.clock.advance(minutes=1)
    rotated = await vault.rotate.execute(admin, secret.id)
    assert rotated.status is SecretStatus.ACTIVE and rotated.current_version == 2
    assert rotated.last_rotated_at == vault.clock.now()
    assert vault.states(secret.id) == {1: "destroyed", 2: "current"}
    after = vault.uow.store.secret_versions[(secret.id, 2)].value
    assert before is not None and after is not None and after.ciphertext != before.ciphertext
    assert after.wrapped_dek != before.wrapped_dek and after.kek_version == vault.cipher.active_key_version
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "same"
    assert vault.audit()[-2] == ("secret.rotate", "success")


async def test_rotate_with_value_is_a_value_change() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="v1")
    rotated = await vault.rotate.execute(admin, secret.id, "v2")
    assert rotated.status is SecretStatus.ROTATED and rotated.previous_version == 1
    with pytest.raises(RotationInProgress):
        await vault.rotate.execute(admin, secret.id, "v3")
    rekeyed = await vault.rotate.execute(admin, secret.id)  # re-key keeps the fallback
    assert rekeyed.status is SecretStatus.ROTATED and vault.states(secret.id) == {
        1: "previous", 2: "destroyed", 3: "current"}
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "v2"


async def test_activate_finishes_a_rotation_and_both_are_idempotent() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="v1")
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="v2"))
    for _ in range(2):
        assert (await vault.activate.execute(admin, secret.id)).status is SecretStatus.ACTIVE
    assert vault.states(secret.id) == {1: "destroyed", 2: "current"}
    for _ in range(2):
        assert (await vault.deactivate.execute(admin, secret.id)).status is SecretStatus.INACTIVE
    with pytest.raises(SecretInactive):
        await vault.reveal.execute(admin, secret.id)
    assert (await vault.activate.execute(admin, secret.id)).status is SecretStatus.ACTIVE
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "v2"


async def test_deactivate_while_rotated_drops_the_fallback_and_value_change_stays_inactive() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="v1")
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="v2"))
    inactive = await vault.deactivate.execute(admin, secret.id)
    assert inactive.previous_version is None and vault.states(secret.id)[1] == "destroyed"
    fixed = await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="v3"))
    assert fixed.status is SecretStatus.INACTIVE and vault.states(secret.id) == {
        1: "destroyed", 2: "destroyed", 3: "current"}
    assert [a for a, _ in vault.audit()].count("secret.deactivate") == 1
