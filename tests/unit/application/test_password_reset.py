"""Forgot password and reset password (SPEC.md, "Auth")."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from application.errors import InvalidCredentials, InvalidResetToken, PasswordResetThrottled, TokenRevoked
from application.jobs import SendEmail
from application.use_cases.auth.forgot_password import FORGOT_PASSWORD_MESSAGE, ForgotPasswordCommand
from application.use_cases.auth.login import LoginCommand
from application.use_cases.auth.reset_password import RESET_PASSWORD_MESSAGE, ResetPasswordCommand
from domain.identity import WeakPassword
from tests.fakes import QueuedJob
from tests.unit.conftest import PASSWORD, UseCases

EMAIL = "ana@example.com"
NEW_PASSWORD = "a brand new passphrase"


async def _forgot(core: UseCases, email: str = EMAIL) -> str:
    return await core.forgot_password.execute(ForgotPasswordCommand(email=email))


async def _reset(core: UseCases, token: str, password: str = NEW_PASSWORD) -> str:
    return await core.reset_password.execute(ResetPasswordCommand(token=token, new_password=password))


def _token_in(job: QueuedJob) -> str:
    links = re.findall(r"https://app\.pytake\.test/reset-password#token=(\S+)", job.payload["body"])
    assert len(links) == 1, job.payload["body"]
    return str(links[0])


def _mails(core: UseCases) -> list[QueuedJob]:
    return [job for job in core.store.queued if job.entrypoint == SendEmail.entrypoint]


async def _mailed_token(core: UseCases, email: str = EMAIL) -> str:
    before = len(_mails(core))
    await _forgot(core, email)
    mails = _mails(core)
    assert len(mails) == before + 1
    return _token_in(mails[-1])


class TestForgotPassword:
    async def test_same_answer_for_known_and_unknown_emails_but_only_the_known_one_gets_mail(
            self, core: UseCases) -> None:
        await core.signup(EMAIL)

        unknown = await _forgot(core, "nobody@example.com")
        assert _mails(core) == [] and core.store.reset_tokens == {}
        known = await _forgot(core, " ANA@example.com ")

        assert unknown == known == FORGOT_PASSWORD_MESSAGE
        (mail,) = _mails(core)
        assert mail.payload["to"] == EMAIL
        token = _token_in(mail)
        (stored,) = core.store.reset_tokens.values()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert stored.token_hash != token and token not in core.store.reset_tokens
        assert stored.expires_at == core.clock.now() + timedelta(minutes=30)
        assert "30 minutes" in mail.payload["body"]

    async def test_the_fourth_request_within_an_hour_is_throttled_and_sends_nothing(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        for _ in range(3):
            await _forgot(core)
            core.clock.advance(minutes=10)
        tokens_before = dict(core.store.reset_tokens)

        with pytest.raises(PasswordResetThrottled) as raised:
            await _forgot(core, " Ana@Example.com")

        assert raised.value.retry_after_seconds == 30 * 60  # until the hour of the first request is over
        assert raised.value.code == "too_many_password_resets"
        assert len(_mails(core)) == 3
        assert core.store.reset_tokens == tokens_before
        core.clock.advance(minutes=30)  # the window of the first request is over
        await _forgot(core)
        assert len(_mails(core)) == 4

    async def test_unknown_emails_are_throttled_alike(self, core: UseCases) -> None:
        for _ in range(3):
            await _forgot(core, "nobody@example.com")
        with pytest.raises(PasswordResetThrottled):
            await _forgot(core, "nobody@example.com")

    async def test_requests_from_one_client_address_are_throttled_across_emails(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        limit = core.policy.reset_requests_per_ip_per_hour
        for n in range(limit):
            await core.forgot_password.execute(ForgotPasswordCommand(email=f"guess{n}@example.com",
                                                                     client_ip="203.0.113.9"))
        with pytest.raises(PasswordResetThrottled) as raised:
            await core.forgot_password.execute(ForgotPasswordCommand(email=EMAIL, client_ip="203.0.113.9"))
        assert 0 < raised.value.retry_after_seconds <= 3600 and _mails(core) == []
        await core.forgot_password.execute(ForgotPasswordCommand(email=EMAIL, client_ip="198.51.100.1"))
        assert len(_mails(core)) == 1

    async def test_an_inactive_user_gets_no_mail(self, core: UseCases) -> None:
        pair = await core.signup(EMAIL)
        core.store.users[pair.user.id].is_active = False
        assert await _forgot(core) == FORGOT_PASSWORD_MESSAGE
        assert _mails(core) == []

    async def test_a_newer_token_invalidates_the_older(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        older = await _mailed_token(core)
        newer = await _mailed_token(core)

        with pytest.raises(InvalidResetToken):
            await _reset(core, older)
        assert await _reset(core, newer) == RESET_PASSWORD_MESSAGE


class TestResetPassword:
    async def test_a_valid_token_sets_the_password_burns_the_token_and_revokes_every_session(
            self, core: UseCases) -> None:
        first = await core.signup(EMAIL)
        second, _ = await core.sign_in(EMAIL)
        token = await _mailed_token(core)
        sessions = set(core.store.sessions)

        assert await _reset(core, token) == RESET_PASSWORD_MESSAGE

        assert len(sessions) == 2
        assert all(core.store.sessions[s].revoked_reason == "password_reset" for s in sessions)
        assert (await core.login.execute(LoginCommand(email=EMAIL, password=NEW_PASSWORD))).user.email == EMAIL
        with pytest.raises(InvalidCredentials):
            await core.login.execute(LoginCommand(email=EMAIL, password=PASSWORD))
        with pytest.raises(InvalidResetToken) as raised:
            await _reset(core, token, "yet another passphrase")
        assert raised.value.code == "invalid_reset_token"
        for pair in (first, second):
            with pytest.raises(TokenRevoked):
                await core.actor(pair.access_token)

    async def test_an_expired_token_is_refused(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        token = await _mailed_token(core)
        core.clock.advance(minutes=30)
        with pytest.raises(InvalidResetToken):
            await _reset(core, token)
        assert await core.hasher.verify(next(iter(core.store.users.values())).password_hash, PASSWORD)

    async def test_a_token_works_until_just_before_it_expires(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        token = await _mailed_token(core)
        core.clock.advance(minutes=29, seconds=59)
        assert await _reset(core, token) == RESET_PASSWORD_MESSAGE

    @pytest.mark.parametrize("token", ["", "unknown-token"])
    async def test_an_unknown_token_is_refused(self, core: UseCases, token: str) -> None:
        await core.signup(EMAIL)
        await _forgot(core)
        with pytest.raises(InvalidResetToken):
            await _reset(core, token)

    @pytest.mark.parametrize("case", ["unknown", "expired", "used"])
    async def test_a_token_that_cannot_work_costs_no_password_hash(self, core: UseCases, case: str) -> None:
        await core.signup(EMAIL)
        token = await _mailed_token(core)
        if case == "unknown":
            token = "unknown-token"
        elif case == "expired":
            core.clock.advance(minutes=30)
        else:
            await _reset(core, token)
        hashes = core.hasher.hashes

        with pytest.raises(InvalidResetToken):
            await _reset(core, token, "yet another passphrase")

        assert core.hasher.hashes == hashes  # the token is checked before the password is hashed

    async def test_attempts_from_one_client_address_are_throttled(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        token = await _mailed_token(core)
        policy = core.policy
        for _ in range(policy.reset_attempts_per_ip):
            with pytest.raises(InvalidResetToken):
                await core.reset_password.execute(ResetPasswordCommand(
                    token="guess", new_password=NEW_PASSWORD, client_ip="203.0.113.9"))
        hashes = core.hasher.hashes

        with pytest.raises(PasswordResetThrottled) as raised:  # even with the right token
            await core.reset_password.execute(ResetPasswordCommand(token=token, new_password=NEW_PASSWORD,
                                                                   client_ip="203.0.113.9"))

        assert raised.value.retry_after_seconds == policy.reset_attempts_window_seconds
        assert core.hasher.hashes == hashes
        assert await core.reset_password.execute(ResetPasswordCommand(
            token=token, new_password=NEW_PASSWORD, client_ip="198.51.100.1")) == RESET_PASSWORD_MESSAGE

    @pytest.mark.parametrize("weak", ["short", "password123", EMAIL, "ANA@Example.com"])
    async def test_a_weak_password_leaves_the_token_usable(self, core: UseCases, weak: str) -> None:
        pair = await core.signup(EMAIL)
        token = await _mailed_token(core)

        with pytest.raises(WeakPassword):
            await _reset(core, token, weak)

        assert await core.hasher.verify(core.store.users[pair.user.id].password_hash, PASSWORD)
        assert (await core.actor(pair.access_token)).user_id == pair.user.id  # sessions untouched
        assert await _reset(core, token) == RESET_PASSWORD_MESSAGE
