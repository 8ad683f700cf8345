"""``/test`` (decrypt, format, whatsapp_token) and the usage statistics on the fakes."""

from __future__ import annotations

import pytest

from application.ports.vault import CredentialCheck, SecretUsage
from application.use_cases.vault.update_secret import UpdateSecretCommand
from application.use_cases.vault.verify_secret import SecretTestThrottled, UnknownTestType
from domain.vault import SecretStatus
from tests.unit.vault.kit import Vault, actor

TOKEN = "EAA" + "Ab1" * 10


async def test_default_test_type_follows_the_service() -> None:
    vault, admin = Vault(), actor()
    plain = await vault.secret(admin, key="PLAIN")
    wa = await vault.secret(admin, key="WA", value=TOKEN, service="whatsapp")
    result = await vault.test.execute(admin, plain.id)
    assert (result.valid, result.message) == (True, "decryptable; no provider check")
    assert vault.checker.tokens == []
    assert (await vault.test.execute(admin, wa.id)).valid is True and vault.checker.tokens == [TOKEN]
    with pytest.raises(UnknownTestType):
        await vault.test.execute(admin, wa.id, "bogus")


@pytest.mark.parametrize(("value", "service", "valid"), [
    (TOKEN, "whatsapp", True), ("EAA has spaces", "whatsapp", False), ("abc", "whatsapp", False),
    ("any-plain-value", None, True), (" padded", None, False), ("tab\there", None, False),
])
async def test_format(value: str, service: str | None, valid: bool) -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value=value, service=service)
    result = await vault.test.execute(admin, secret.id, "format")
    assert result.valid is valid and value not in result.message


@pytest.mark.parametrize("value", ["tokén-123", "EAA" + "☃" * 5])
async def test_a_non_ascii_token_fails_the_provider_test_without_calling_the_provider(value: str) -> None:
    """Fuzzing regression: the checker put the value in an Authorization header, which cannot carry it (500)."""
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value=value, service="custom")
    result = await vault.test.execute(admin, secret.id, "whatsapp_token")
    assert (result.valid, vault.checker.tokens) == (False, [])
    assert result.message.startswith("format:") and value not in result.message


async def test_a_passing_test_promotes_rotated_and_an_inconclusive_one_changes_nothing() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value=TOKEN, service="whatsapp")
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value=TOKEN + "2"))
    vault.checker.answer = CredentialCheck(None, "inconclusive: the provider did not answer in time")
    result = await vault.test.execute(admin, secret.id)
    assert (result.valid, result.message.startswith("inconclusive")) == (False, True)
    assert (await vault.get.execute(admin, secret.id)).last_tested_at is None
    vault.checker.answer = CredentialCheck(False, "token invalid or expired")
    assert (await vault.test.execute(admin, secret.id)).valid is False
    stored = await vault.get.execute(admin, secret.id)
    assert stored.status is SecretStatus.ROTATED and stored.last_test_valid is False
    vault.checker.answer = CredentialCheck(True, "token accepted")
    assert (await vault.test.execute(admin, secret.id)).valid is True
    promoted = await vault.get.execute(admin, secret.id)
    assert promoted.status is SecretStatus.ACTIVE and promoted.previous_version is None
    assert vault.states(secret.id) == {1: "destroyed", 2: "current"}
    assert vault.checker.tokens == [TOKEN + "2"] * 3
    assert [a for a in vault.audit() if a[0] == "secret.test"] == [("secret.test", "success")] * 3
    assert (await vault.usage.execute(admin, secret.id)).total_requests == 0


async def test_a_test_of_a_value_changed_meanwhile_does_not_promote() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value=TOKEN, service="whatsapp")
    await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value=TOKEN + "2"))

    async def change_during_check(token: str) -> CredentialCheck:
        await vault.activate.execute(admin, secret.id)
        await vault.update.execute(admin, UpdateSecretCommand(secret_id=secret.id, value=TOKEN + "3"))
        return CredentialCheck(True, "token accepted")

    vault.checker.check_whatsapp_token = change_during_check  # type: ignore[method-assign]
    assert (await vault.test.execute(admin, secret.id)).valid is True
    assert (await vault.get.execute(admin, secret.id)).status is SecretStatus.ROTATED


def test_success_rate_rounding() -> None:
    assert SecretUsage(secret_id=actor().user_id).success_rate == 0.0
    assert SecretUsage(secret_id=actor().user_id, total_requests=3, success_count=2).success_rate == 0.6667
    assert SecretUsage(secret_id=actor().user_id, total_requests=4, success_count=3).success_rate == 0.75


async def test_organization_usage_lists_only_the_callers_live_secrets() -> None:
    vault, admin, other = Vault(), actor(), actor()
    a = await vault.secret(admin, key="A")
    b = await vault.secret(admin, key="B")
    gone = await vault.secret(admin, key="C")
    theirs = await vault.secret(other, key="A")
    for _ in range(3):
        await vault.reveal.execute(admin, b.id)
    await vault.reveal.execute(other, theirs.id)
    await vault.delete.execute(admin, gone.id)
    usage, total = await vault.org_usage.execute(admin)
    assert total == 2 and [(u.secret_id, u.total_requests) for u in usage] == [(a.id, 0), (b.id, 3)]


async def test_provider_checks_of_one_secret_are_limited_per_minute() -> None:
    vault, admin = Vault(), actor()
    secret = await vault.secret(admin, value=TOKEN, service="whatsapp")
    other = await vault.secret(admin, key="OTHER", value=TOKEN, service="whatsapp")
    for _ in range(5):
        assert (await vault.test.execute(admin, secret.id)).valid is True
    vault.clock.advance(seconds=20)

    with pytest.raises(SecretTestThrottled) as raised:
        await vault.test.execute(admin, secret.id)

    assert raised.value.retry_after_seconds == 40 and raised.value.code == "too_many_secret_tests"
    assert len(vault.checker.tokens) == 5  # the sixth never reached the provider
    assert (await vault.test.execute(admin, other.id)).valid is True  # counted per secret
    vault.clock.advance(seconds=40)
    assert (await vault.test.execute(admin, secret.id)).valid is True
