"""The audited value read and the internal resolution path: audit first and fail closed, usage counting."""

from __future__ import annotations

from dataclasses import replace

import pytest

from application.use_cases.vault.resolve_secret import ResolveSecretQuery
from application.use_cases.vault.vault_secret_resolver import VaultSecretResolver
from domain.errors import InvalidValue
from domain.vault import SecretDecryptionFailed, SecretEnvironment, SecretInactive, SecretNotFound
from tests.unit.vault.kit import Vault, actor


async def test_value_read_is_audited_and_counted() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="v")
    assert (await vault.reveal.execute(admin, secret.id)).reveal() == "v"
    event = vault.uow.store.audit[-1]
    assert (event.action, event.outcome, event.secret_id, event.actor_user_id) == (
        "value.read", "success", secret.id, admin.user_id)
    usage = await vault.usage.execute(admin, secret.id)
    assert (usage.total_requests, usage.success_rate, usage.last_used_at) == (1, 1.0, vault.clock.now())


async def test_value_read_fails_closed_when_the_audit_row_cannot_be_written() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin)
    vault.uow.fail_audit = True
    with pytest.raises(RuntimeError):
        await vault.reveal.execute(admin, secret.id)
    vault.uow.fail_audit, vault.uow.fail_commits = False, True
    with pytest.raises(RuntimeError):
        await vault.reveal.execute(admin, secret.id)
    vault.uow.fail_commits = False
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0


async def test_usage_recording_failure_never_fails_the_read() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value="v")

    opened = []

    def flaky(organization_id=None):  # type: ignore[no-untyped-def]
        opened.append(organization_id)
        if len(opened) == 2:  # the usage transaction cannot even open
            vault.uow.fail_next_open = 1
        return vault.uow(organization_id)

    reveal = type(vault.reveal)(uow=flaky, cipher=vault.cipher, clock=vault.clock)
    assert (await reveal.execute(admin, secret.id)).reveal() == "v"
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0


async def test_inactive_and_undecryptable_values_are_refused_audited_and_counted_as_failures() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin)
    await vault.deactivate.execute(admin, secret.id)
    with pytest.raises(SecretInactive):
        await vault.reveal.execute(admin, secret.id)
    await vault.activate.execute(admin, secret.id)
    row = vault.uow.store.secret_versions[(secret.id, 1)]
    assert row.value is not None
    row.value = replace(row.value, ciphertext=bytes([row.value.ciphertext[0] ^ 1]) + row.value.ciphertext[1:])
    with pytest.raises(SecretDecryptionFailed):
        await vault.reveal.execute(admin, secret.id)
    assert [e for e in vault.audit() if e[0] == "value.read"] == [("value.read", "failure")] * 2
    codes = [dict(e.details).get("error_code") for e in vault.uow.store.audit if e.outcome == "failure"]
    assert codes == ["secret_inactive", "secret_decrypt_failed"]
    usage = await vault.usage.execute(admin, secret.id)
    assert (usage.total_requests, usage.failure_count, usage.success_rate) == (2, 2, 0.0)


async def test_resolve_by_key_or_id_counts_usage_without_audit() -> None:
    vault, admin = Vault(), actor()
    org = admin.organization_id
    secret = await vault.secret(admin, key="WA", value="token", service="whatsapp", environment="production")
    by_key = await vault.resolve.execute(ResolveSecretQuery(organization_id=org, key="WA", service="whatsapp",
                                                            environment=SecretEnvironment.PRODUCTION))
    by_id = await vault.resolve.execute(ResolveSecretQuery(organization_id=org, secret_id=secret.id))
    assert by_key.value.reveal() == by_id.value.reveal() == "token" and "token" not in repr(by_id)
    with pytest.raises(SecretNotFound):
        await vault.resolve.execute(ResolveSecretQuery(organization_id=org, key="WA"))
    with pytest.raises(SecretNotFound):
        await vault.resolve.execute(ResolveSecretQuery(organization_id=actor().organization_id, secret_id=secret.id))
    with pytest.raises(InvalidValue):
        await vault.resolve.execute(ResolveSecretQuery(organization_id=org))
    await vault.deactivate.execute(admin, secret.id)
    with pytest.raises(SecretInactive):
        await vault.resolve.execute(ResolveSecretQuery(organization_id=org, secret_id=secret.id))
    usage = await vault.usage.execute(admin, secret.id)
    assert (usage.total_requests, usage.success_count, usage.failure_count) == (3, 2, 1)
    assert "value.read" not in [a for a, _ in vault.audit()]


async def test_reported_failures_turn_a_success_into_a_failure() -> None:
    vault, admin = Vault(), actor()
    org = admin.organization_id
    secret = await vault.secret(admin, value="token")
    resolver = VaultSecretResolver(resolve=vault.resolve, report=vault.report_failure, count=vault.count_uses)
    assert await resolver.resolve(org, secret.id) == "token"
    await resolver.report_failure(org, secret.id)
    usage = await vault.usage.execute(admin, secret.id)
    assert (usage.total_requests, usage.success_count, usage.failure_count) == (1, 0, 1)
    await resolver.report_failure(org, secret.id)  # nothing left to move: one failed request
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 2
    await vault.report_failure.execute(actor().organization_id, secret.id)  # another tenant: ignored
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 2


async def test_a_value_resolved_uncounted_is_counted_by_its_uses() -> None:
    """The sender resolves its token once per batch and counts one use per message sent with it."""
    vault, admin = Vault(), actor()
    org = admin.organization_id
    secret = await vault.secret(admin, value="token")
    resolver = VaultSecretResolver(resolve=vault.resolve, report=vault.report_failure, count=vault.count_uses)
    assert await resolver.resolve(org, secret.id, count=False) == "token"
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0
    await resolver.count_uses(org, secret.id, successes=7, failures=2)
    usage = await vault.usage.execute(admin, secret.id)
    assert (usage.total_requests, usage.success_count, usage.failure_count) == (9, 7, 2)
    await resolver.count_uses(actor().organization_id, secret.id, successes=5, failures=0)  # another tenant
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 9
