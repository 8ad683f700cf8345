"""Forgot password and reset password (SPEC.md, "Auth")."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from application.errors import InvalidCredentials, InvalidResetToken, TokenRevoked
from application.use_cases.auth.forgot_password import FORGOT_PASSWORD_MESSAGE, SEND_EMAIL_JOB, ForgotPasswordCommand
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
    return [job for job in core.store.jobs if job.entrypoint == SEND_EMAIL_JOB]


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

    async def test_the_fourth_request_within_an_hour_sends_nothing(self, core: UseCases) -> None:
        await core.signup(EMAIL)
        for _ in range(3):
            await _forgot(core)
            core.clock.advance(minutes=10)
        tokens_before = dict(core.store.reset_tokens)

        assert await _forgot(core) == FORGOT_PASSWORD_MESSAGE

        assert len(_mails(core)) == 3
        assert core.store.reset_tokens == tokens_before
        core.clock.advance(minutes=31)  # the window of the first request is over
        await _forgot(core)
        assert len(_mails(core)) == 4

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

    @pytest.mark.parametrize("weak", ["short", "password123", EMAIL, "ANA@Example.com"])
    async def test_a_weak_password_leaves_the_token_usable(self, core: UseCases, weak: str) -> None:
        pair = await core.signup(EMAIL)
        token = await _mailed_token(core)

        with pytest.raises(WeakPassword):
            await _reset(core, token, weak)

        assert await core.hasher.verify(core.store.users[pair.user.id].password_hash, PASSWORD)
        assert (await core.actor(pair.access_token)).user_id == pair.user.id  # sessions untouched
        assert await _reset(core, token) == RESET_PASSWORD_MESSAGE
