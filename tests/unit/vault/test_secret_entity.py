"""The Secret entity's status machine (shared/VAULT.md, "Status")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.vault import (
    UNSET,
    RotationInProgress,
    Secret,
    SecretEnvironment,
    SecretInactive,
    SecretKey,
    SecretNotFound,
    SecretService,
    SecretStatus,
    VersionChange,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)
T3 = T0 + timedelta(hours=3)


def new_secret(**overrides: object) -> Secret:
    secret = Secret.create(id=uuid4(), organization_id=uuid4(), key=SecretKey("WHATSAPP_TOKEN"), now=T0)
    for name, value in overrides.items():
        setattr(secret, name, value)
    return secret


def rotated_secret() -> Secret:
    secret = new_secret()
    secret.change_value(T1)
    return secret


def inactive_secret() -> Secret:
    secret = new_secret()
    secret.deactivate(T1)
    return secret


def test_create_starts_active_at_version_one() -> None:
    creator = uuid4()
    secret = Secret.create(
        id=uuid4(), organization_id=uuid4(), key=SecretKey("K"), now=T0, created_by=creator,
        service=SecretService("whatsapp"),
    )
    assert secret.status is SecretStatus.ACTIVE
    assert secret.environment is SecretEnvironment.DEVELOPMENT
    assert (secret.current_version, secret.previous_version) == (1, None)
    assert secret.last_rotated_at is None and secret.last_tested_at is None and secret.last_test_valid is None
    assert secret.created_at == secret.updated_at == T0
    assert secret.created_by == creator and secret.deleted_at is None and not secret.is_deleted
    secret.ensure_servable()


def test_change_value_while_active_starts_a_rotation() -> None:
    secret = new_secret()
    change = secret.change_value(T1)
    assert change == VersionChange(new_version=2, released=())
    assert secret.status is SecretStatus.ROTATED
    assert (secret.current_version, secret.previous_version) == (2, 1)
    assert secret.last_rotated_at == secret.updated_at == T1
    secret.ensure_servable()  # the new value is served while rotated


def test_second_value_change_while_rotated_is_409_and_changes_nothing() -> None:
    secret = rotated_secret()
    with pytest.raises(RotationInProgress) as caught:
        secret.change_value(T2)
    assert caught.value.code == "rotation_in_progress"
    assert (secret.status, secret.current_version, secret.previous_version) == (SecretStatus.ROTATED, 2, 1)
    assert secret.last_rotated_at == secret.updated_at == T1


def test_change_value_while_inactive_stays_inactive_without_fallback() -> None:
    secret = inactive_secret()
    change = secret.change_value(T2)
    assert change == VersionChange(new_version=2, released=(1,))
    assert (secret.status, secret.current_version, secret.previous_version) == (SecretStatus.INACTIVE, 2, None)
    assert secret.last_rotated_at == T2
    secret.change_value(T3)  # no rotation is in progress while inactive
    assert secret.current_version == 3


@pytest.mark.parametrize("make", [new_secret, inactive_secret])
def test_rekey_creates_a_version_destroys_the_old_one_and_keeps_status(make: Callable[[], Secret]) -> None:
    secret = make()
    status = secret.status
    change = secret.rekey(T2)
    assert change == VersionChange(new_version=2, released=(1,))
    assert (secret.status, secret.current_version, secret.previous_version) == (status, 2, None)
    assert secret.last_rotated_at == secret.updated_at == T2


def test_rekey_while_rotated_keeps_the_fallback() -> None:
    secret = rotated_secret()
    change = secret.rekey(T2)
    assert change == VersionChange(new_version=3, released=(2,))
    assert (secret.status, secret.current_version, secret.previous_version) == (SecretStatus.ROTATED, 3, 1)
    assert secret.activate(T3) == VersionChange(released=(1,))


def test_activate_is_idempotent_on_active() -> None:
    secret = new_secret()
    assert secret.activate(T1) == VersionChange()
    assert secret.status is SecretStatus.ACTIVE and secret.updated_at == T0


def test_activate_finishes_a_rotation_and_drops_the_fallback() -> None:
    secret = rotated_secret()
    assert secret.activate(T2) == VersionChange(released=(1,))
    assert (secret.status, secret.current_version, secret.previous_version) == (SecretStatus.ACTIVE, 2, None)
    assert secret.updated_at == T2
    assert secret.change_value(T3).new_version == 3  # a new rotation may start


def test_activate_reenables_an_inactive_secret() -> None:
    secret = inactive_secret()
    assert secret.activate(T2) == VersionChange()
    assert secret.status is SecretStatus.ACTIVE
    secret.ensure_servable()


def test_deactivate_is_idempotent_and_refuses_serving() -> None:
    secret = new_secret()
    assert secret.deactivate(T1) == VersionChange()
    assert secret.deactivate(T2) == VersionChange()
    assert secret.status is SecretStatus.INACTIVE and secret.updated_at == T1
    with pytest.raises(SecretInactive) as caught:
        secret.ensure_servable()
    assert caught.value.code == "secret_inactive"


def test_deactivate_while_rotated_drops_the_fallback() -> None:
    secret = rotated_secret()
    assert secret.deactivate(T2) == VersionChange(released=(1,))
    assert (secret.status, secret.current_version, secret.previous_version) == (SecretStatus.INACTIVE, 2, None)


def test_valid_test_promotes_a_rotated_secret() -> None:
    secret = rotated_secret()
    assert secret.record_test(True, T2) == VersionChange(released=(1,))
    assert (secret.status, secret.previous_version) == (SecretStatus.ACTIVE, None)
    assert (secret.last_tested_at, secret.last_test_valid, secret.updated_at) == (T2, True, T2)


def test_failed_test_keeps_the_rotation_pending() -> None:
    secret = rotated_secret()
    assert secret.record_test(False, T2) == VersionChange()
    assert (secret.status, secret.previous_version) == (SecretStatus.ROTATED, 1)
    assert (secret.last_tested_at, secret.last_test_valid) == (T2, False)


@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize(
    ("make", "status"), [(new_secret, SecretStatus.ACTIVE), (inactive_secret, SecretStatus.INACTIVE)]
)
def test_tests_never_change_active_or_inactive(
    make: Callable[[], Secret], status: SecretStatus, valid: bool
) -> None:
    secret = make()
    assert secret.record_test(valid, T2) == VersionChange()
    assert secret.status is status
    assert (secret.last_tested_at, secret.last_test_valid) == (T2, valid)


def test_update_metadata_changes_only_what_is_given() -> None:
    secret = new_secret(service=SecretService("whatsapp"))
    assert secret.update_metadata(now=T1) is False
    assert secret.updated_at == T0
    assert secret.update_metadata(now=T1, environment=SecretEnvironment.PRODUCTION) is True
    assert (secret.environment, secret.service, secret.updated_at) == (
        SecretEnvironment.PRODUCTION, SecretService("whatsapp"), T1,
    )
    assert secret.update_metadata(now=T2, service=None) is True
    assert secret.service is None
    assert secret.update_metadata(now=T3, service=None, environment=SecretEnvironment.PRODUCTION) is False
    assert secret.updated_at == T2
    assert secret.update_metadata(now=T3, service=SecretService("graph")) is True
    assert secret.service == SecretService("graph")
    assert secret.update_metadata(now=T3, service=UNSET, environment=SecretEnvironment.STAGING) is True
    assert secret.environment is SecretEnvironment.STAGING
    assert secret.service == SecretService("graph")
    assert (secret.status, secret.current_version) == (SecretStatus.ACTIVE, 1)


def test_delete_is_soft_and_hides_the_secret() -> None:
    secret = rotated_secret()
    secret.delete(T2)
    assert secret.deleted_at == secret.updated_at == T2 and secret.is_deleted
    with pytest.raises(SecretNotFound) as caught:
        secret.delete(T3)
    assert caught.value.code == "secret_not_found"


@pytest.mark.parametrize(
    "act",
    [
        lambda s: s.change_value(T3),
        lambda s: s.rekey(T3),
        lambda s: s.activate(T3),
        lambda s: s.deactivate(T3),
        lambda s: s.record_test(True, T3),
        lambda s: s.update_metadata(now=T3, environment=SecretEnvironment.STAGING),
        lambda s: s.ensure_servable(),
        lambda s: s.delete(T3),
    ],
)
def test_every_method_on_a_deleted_secret_is_not_found(act: Callable[[Secret], object]) -> None:
    secret = new_secret()
    secret.delete(T2)
    with pytest.raises(SecretNotFound):
        act(secret)
    assert (secret.status, secret.current_version, secret.updated_at) == (SecretStatus.ACTIVE, 1, T2)


ACTIONS = st.lists(
    st.sampled_from(["change_value", "rekey", "activate", "deactivate", "test_ok", "test_ko"]), max_size=30
)


@given(ACTIONS)
def test_invariants_hold_over_any_sequence(actions: list[str]) -> None:
    """previous_version is set exactly while rotated; versions only grow; released versions are never current."""
    secret = new_secret()
    live = {1}  # stored versions not yet released
    for step, name in enumerate(actions):
        now = T0 + timedelta(minutes=step + 1)
        before = secret.current_version
        try:
            if name == "change_value":
                change = secret.change_value(now)
            elif name == "rekey":
                change = secret.rekey(now)
            elif name in ("activate", "deactivate"):
                change = getattr(secret, name)(now)
            else:
                change = secret.record_test(name == "test_ok", now)
        except RotationInProgress:
            assert name == "change_value" and secret.status is SecretStatus.ROTATED
            continue
        if change.new_version is not None:
            assert change.new_version == before + 1 == secret.current_version
            live.add(change.new_version)
        else:
            assert secret.current_version == before
        assert set(change.released) <= live
        live -= set(change.released)
        assert (secret.previous_version is not None) == (secret.status is SecretStatus.ROTATED)
        expected = {secret.current_version} | ({secret.previous_version} if secret.previous_version else set())
        assert live == expected
