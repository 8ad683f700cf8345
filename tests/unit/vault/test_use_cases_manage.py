"""Create, list, get, update and delete on the fakes: versions, audit rows, 409s and 422s, roles, tenancy."""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.use_cases.vault.common import InvalidEnvironment
from application.use_cases.vault.create_secret import CreateSecretCommand
from application.use_cases.vault.update_secret import NothingToUpdate, UpdateSecretCommand
from domain.errors import PermissionDenied
from domain.identity import Role
from domain.vault import (
    InvalidSecretKey,
    InvalidSecretValue,
    RotationInProgress,
    SecretAlreadyExists,
    SecretNotFound,
    SecretStatus,
)
from tests.unit.vault.kit import Vault, actor


async def test_create_encrypts_version_1_and_audits() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="s3cr3t", service="whatsapp", environment="production")
    assert secret.status is SecretStatus.ACTIVE and secret.current_version == 1
    assert vault.states(secret.id) == {1: "current"}
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "s3cr3t"
    event = vault.uow.store.audit[0]
    assert (event.action, event.outcome, event.actor_user_id) == ("secret.create", "success", admin.user_id)
    assert "s3cr3t" not in repr(event) and dict(event.details)["key"] == "TOKEN"


async def test_duplicates_conflict_with_null_service_equal_and_audit_the_failure() -> None:
    vault, admin = Vault(), actor()
    await vault.secret(admin)
    with pytest.raises(SecretAlreadyExists):
        await vault.secret(admin)
    await vault.secret(admin, environment="staging")
    await vault.secret(admin, service="whatsapp")
    assert vault.audit()[-3:] == [("secret.create", "failure"), ("secret.create", "success"),
                                  ("secret.create", "success")]
    await vault.secret(actor())  # another organization may use the same key


@pytest.mark.parametrize(("command", "error"), [
    (CreateSecretCommand(key="a b", value="v"), InvalidSecretKey),
    (CreateSecretCommand(key="K", value=""), InvalidSecretValue),
    (CreateSecretCommand(key="K", value="x" * 16385), InvalidSecretValue),
    (CreateSecretCommand(key="K", value="v", environment="prod"), InvalidEnvironment),
])
async def test_invalid_input_is_refused_before_anything_is_written(command: CreateSecretCommand,
                                                                    error: type[Exception]) -> None:
    vault = Vault()
    with pytest.raises(error):
        await vault.create.execute(actor(), command)
    assert vault.uow.store.secrets == {} and vault.uow.store.audit == []
    assert "CreateSecretCommand(key=" in repr(command) and "value=" not in repr(command)


async def test_list_filters_and_pages_by_key() -> None:
    vault, admin = Vault(), actor()
    for key, env in (("B", "production"), ("A", "production"), ("C", "staging")):
        await vault.secret(admin, key=key, environment=env)
    page, total = await vault.list.execute(admin, environment="production", limit=1, offset=1)
    assert [s.key.value for s in page] == ["B"] and total == 2
    assert (await vault.list.execute(actor()))[1] == 0


async def test_update_value_rotates_then_409_and_metadata_rules() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin)
    other = await vault.secret(admin, environment="staging")
    with pytest.raises(NothingToUpdate):
        await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id))
    changed = await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="value-2"))
    assert changed.status is SecretStatus.ROTATED and changed.current_version == 2
    assert vault.states(secret.id) == {1: "previous", 2: "current"}
    with pytest.raises(RotationInProgress):
        await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="value-3"))
    with pytest.raises(SecretAlreadyExists):
        await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, environment="staging"))
    moved = await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, service="mail"))
    assert moved.service is not None and moved.service.value == "mail"
    cleared = await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, service=None))
    assert cleared.service is None and (await vault.get.execute(admin, other.id)) == other
    assert ("secret.update", "failure") in vault.audit()
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "value-2"


async def test_delete_is_soft_destroys_versions_and_frees_the_key() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin)
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value="value-2"))
    await vault.delete.execute(admin, secret.id)
    assert vault.states(secret.id) == {1: "destroyed", 2: "destroyed"}
    for use_case in (vault.get, vault.reveal, vault.rotate, vault.activate, vault.deactivate, vault.usage,
                     vault.delete, vault.test):
        with pytest.raises(SecretNotFound):
            await use_case.execute(admin, secret.id)
    again = await vault.secret(admin)
    assert again.id != secret.id


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
async def test_agents_and_viewers_are_refused_everywhere(role: Role) -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin)
    member = actor(admin.organization_id, role)
    calls = [vault.get.execute(member, secret.id), vault.reveal.execute(member, secret.id),
             vault.rotate.execute(member, secret.id), vault.activate.execute(member, secret.id),
             vault.deactivate.execute(member, secret.id), vault.usage.execute(member, secret.id),
             vault.delete.execute(member, secret.id), vault.test.execute(member, secret.id),
             vault.list.execute(member), vault.org_usage.execute(member),
             vault.create.execute(member, CreateSecretCommand(key="K", value="v")),
             vault.update.execute(member, UpdateSecretCommand(secret_id=secret.id, value="v"))]
    for call in calls:
        with pytest.raises(PermissionDenied):
            await call
    assert vault.audit() == [("secret.create", "success")]
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0
    assert (await vault.get.execute(actor(admin.organization_id, Role.SUPER_ADMIN), secret.id)) == secret


async def test_another_organizations_secret_is_not_found_and_not_counted() -> None:
    vault, admin, stranger = Vault(), actor(), actor()
    secret = await vault.secret(admin)
    for use_case in (vault.get, vault.reveal, vault.rotate, vault.deactivate, vault.usage, vault.delete):
        with pytest.raises(SecretNotFound):
            await use_case.execute(stranger, secret.id)
    with pytest.raises(SecretNotFound):
        await vault.update.execute(stranger, UpdateSecretCommand(secret_id=secret.id, value="x"))
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0
    assert (await vault.get.execute(admin, secret.id)) == secret and vault.audit() == [("secret.create", "success")]
    with pytest.raises(SecretNotFound):
        await vault.get.execute(admin, uuid4())
