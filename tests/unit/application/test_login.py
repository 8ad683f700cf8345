"""Login: one answer for wrong email and wrong password, throttling, inactive users (SPEC.md, "Auth")."""

from __future__ import annotations

from dataclasses import replace

import pytest

from application.errors import InvalidCredentials, LoginThrottled, UserInactive
from application.use_cases.auth.common import TokenPair
from application.use_cases.auth.login import LoginCommand, LoginUser
from domain.errors import InvalidValue
from tests.unit.conftest import PASSWORD, UseCases, make_use_cases

EMAIL = "ana@example.com"
WRONG = "not the password at all"


async def _login(core: UseCases, email: str = EMAIL, password: str = PASSWORD,
                 client_ip: str | None = None) -> TokenPair:
    return await core.login.execute(LoginCommand(email=email, password=password, client_ip=client_ip))


async def _fail(core: UseCases, times: int, email: str = EMAIL, client_ip: str | None = None) -> None:
    for _ in range(times):
        with pytest.raises(InvalidCredentials):
            await _login(core, email, WRONG, client_ip)


async def test_success_opens_a_new_session(core: UseCases) -> None:
    registered = await core.signup(EMAIL)

    pair = await _login(core, "  ANA@Example.com ")

    assert pair.user.id == registered.user.id
    assert len(core.store.sessions) == 2
    actor = await core.actor(pair.access_token)
    assert actor.user_id == registered.user.id
    assert actor.session_id != (await core.actor(registered.access_token)).session_id
    assert core.store.sessions[actor.session_id].revoked_at is None


async def test_wrong_password_and_unknown_email_fail_alike(core: UseCases) -> None:
    await core.signup(EMAIL)
    sessions = len(core.store.sessions)

    with pytest.raises(InvalidCredentials) as wrong_password:
        await _login(core, EMAIL, WRONG)
    with pytest.raises(InvalidCredentials) as unknown_email:
        await _login(core, "nobody@example.com", PASSWORD)

    assert (wrong_password.value.code, wrong_password.value.message) == (
        unknown_email.value.code, unknown_email.value.message) == ("invalid_credentials", "Invalid email or password.")
    assert len(core.store.sessions) == sessions


async def test_failures_are_committed_although_the_use_case_raises(core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 2)
    await _fail(core, 1, email="nobody@example.com")
    assert core.store.throttle[f"login:email:{EMAIL}"].count == 2
    assert core.store.throttle["login:email:nobody@example.com"].count == 1


async def test_the_sixth_attempt_after_five_failures_is_throttled_even_with_the_right_password(
        core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 5, email="Ana@Example.com")
    sessions = len(core.store.sessions)

    with pytest.raises(LoginThrottled) as raised:
        await _login(core)

    assert 0 < raised.value.retry_after_seconds <= 60
    assert raised.value.code == "too_many_login_attempts"
    assert len(core.store.sessions) == sessions


async def test_unknown_emails_are_throttled_too(core: UseCases) -> None:
    await _fail(core, 5, email="nobody@example.com")
    with pytest.raises(LoginThrottled):
        await _login(core, "nobody@example.com", WRONG)


async def test_throttling_one_email_leaves_the_others_alone(core: UseCases) -> None:
    await core.signup(EMAIL)
    await core.signup("bruno@example.com")
    await _fail(core, 5)
    assert (await _login(core, "bruno@example.com")).user.email == "bruno@example.com"


async def test_the_block_ends_with_time(core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 5)
    with pytest.raises(LoginThrottled) as raised:
        await _login(core)

    core.clock.advance(seconds=raised.value.retry_after_seconds)

    assert (await _login(core)).user.email == EMAIL


async def test_failing_again_within_the_window_doubles_the_block(core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 5)
    core.clock.advance(seconds=60)
    await _fail(core, 1)
    with pytest.raises(LoginThrottled) as raised:
        await _login(core)
    assert 60 < raised.value.retry_after_seconds <= 120


async def test_after_the_window_the_count_starts_over(core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 5)
    core.clock.advance(seconds=core.policy.login_window_seconds)

    await _fail(core, 4)  # a fresh window: four failures do not block
    assert (await _login(core)).user.email == EMAIL


async def test_success_clears_the_email_counter(core: UseCases) -> None:
    await core.signup(EMAIL)
    await _fail(core, 4)
    await _login(core)
    await _fail(core, 4)
    assert (await _login(core)).user.email == EMAIL


async def test_failures_from_one_client_address_are_throttled_across_emails() -> None:
    core = make_use_cases(policy=replace(make_use_cases().policy, login_failures_per_ip=3))
    await core.signup(EMAIL)
    for i in range(3):
        await _fail(core, 1, email=f"guess{i}@example.com", client_ip="203.0.113.9")

    with pytest.raises(LoginThrottled):
        await _login(core, client_ip="203.0.113.9")
    assert (await _login(core, client_ip="198.51.100.1")).user.email == EMAIL


async def test_inactive_user_with_the_right_password_is_told_so_and_gets_no_session(core: UseCases) -> None:
    registered = await core.signup(EMAIL)
    core.store.users[registered.user.id].is_active = False
    sessions = len(core.store.sessions)

    with pytest.raises(UserInactive) as raised:
        await _login(core)
    with pytest.raises(InvalidCredentials):
        await _login(core, EMAIL, WRONG)  # a wrong password reveals nothing

    assert raised.value.code == "user_inactive"
    assert len(core.store.sessions) == sessions


async def test_absurdly_long_password_is_refused_before_hashing(core: UseCases) -> None:
    await core.signup(EMAIL)
    with pytest.raises(InvalidValue):
        await _login(core, EMAIL, "x" * 1025)


def _fresh_login(core: UseCases) -> LoginUser:
    """A new use case object per request, as the container's Factory builds one."""
    login: LoginUser = core.app.login_user
    return login


async def test_an_unknown_email_costs_one_verification_and_no_hash_per_request(core: UseCases) -> None:
    await core.signup(EMAIL)
    with pytest.raises(InvalidCredentials):  # the first unknown email may prepare the process's dummy hash
        await _fresh_login(core).execute(LoginCommand(email="first@example.com", password=WRONG))
    hashes, verifies = core.hasher.hashes, core.hasher.verifies

    for n in range(3):
        with pytest.raises(InvalidCredentials):
            await _fresh_login(core).execute(LoginCommand(email=f"nobody{n}@example.com", password=WRONG))
    with pytest.raises(InvalidCredentials):
        await _fresh_login(core).execute(LoginCommand(email=EMAIL, password=WRONG))

    assert core.hasher.hashes == hashes  # like a wrong password: no hash computed on the request path
    assert core.hasher.verifies == verifies + 4  # one verification each, known email or not
