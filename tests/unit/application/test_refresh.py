"""Refresh: rotation, theft detection by reuse, expiry (SPEC.md, "Auth")."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest

from application.errors import InvalidToken, RefreshTokenReused, TokenRevoked, UserInactive
from application.use_cases.auth.common import TokenPair, hash_token
from application.use_cases.auth.refresh import RefreshCommand
from domain.errors import Unauthenticated
from tests.fakes import RefreshTokenRow
from tests.unit.conftest import UseCases


async def _refresh(core: UseCases, token: str) -> TokenPair:
    return await core.refresh.execute(RefreshCommand(refresh_token=token))


async def test_rotation_returns_a_new_pair_in_the_same_session(core: UseCases) -> None:
    first = await core.signup()
    session_id = (await core.actor(first.access_token)).session_id

    second = await _refresh(core, first.refresh_token)

    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    assert second.user.id == first.user.id
    actor = await core.actor(second.access_token)
    assert actor.session_id == session_id and actor.user_id == first.user.id
    old, new = core.store.refresh_tokens[hash_token(first.refresh_token)], core.store.refresh_tokens[
        hash_token(second.refresh_token)]
    assert old.used_at == core.clock.now() and new.used_at is None
    assert new.parent_id == old.id and new.session_id == session_id


async def test_a_rotated_token_stops_working_and_reusing_it_revokes_the_whole_family(core: UseCases) -> None:
    first = await core.signup()
    other_session = await core.sign_in("ana@example.com")
    second = await _refresh(core, first.refresh_token)
    third = await _refresh(core, second.refresh_token)

    with pytest.raises(RefreshTokenReused) as raised:
        await _refresh(core, first.refresh_token)

    assert raised.value.code == "refresh_token_reused"
    with pytest.raises(InvalidToken):
        await _refresh(core, third.refresh_token)  # the newest token of the family is refused too
    with pytest.raises(TokenRevoked):
        await core.actor(third.access_token)  # and so are its access tokens
    session = core.store.sessions[(await core.actor(other_session[0].access_token)).session_id]
    assert session.revoked_at is None  # another session of the same user is untouched
    assert (await _refresh(core, other_session[0].refresh_token)).user.id == first.user.id


async def test_reuse_is_reported_once_then_the_token_is_just_invalid(core: UseCases) -> None:
    first = await core.signup()
    second = await _refresh(core, first.refresh_token)
    await _refresh(core, second.refresh_token)  # the client rotates: the family is strict from here on
    with pytest.raises(RefreshTokenReused):
        await _refresh(core, first.refresh_token)
    with pytest.raises(InvalidToken):
        await _refresh(core, first.refresh_token)


def _family(core: UseCases, session_id: UUID) -> list[RefreshTokenRow]:
    return [row for row in core.store.refresh_tokens.values() if row.session_id == session_id]


async def test_a_contract_client_that_keeps_its_login_token_stays_signed_in(core: UseCases) -> None:
    login = await core.signup()
    session_id = (await core.actor(login.access_token)).session_id

    for _ in range(5):
        core.clock.advance(minutes=14)
        pair = await _refresh(core, login.refresh_token)
        actor = await core.actor(pair.access_token)
        assert actor.session_id == session_id and pair.refresh_token != login.refresh_token

    family = _family(core, session_id)
    assert len(family) == 2  # the login token and one pending child, however often it refreshes
    assert core.store.sessions[session_id].revoked_at is None
    pending = next(row for row in family if row.parent_id is not None)
    assert pending.token_hash == hash_token(pair.refresh_token) and pending.used_at is None


async def test_only_the_latest_pending_child_is_kept(core: UseCases) -> None:
    login = await core.signup()
    replaced = await _refresh(core, login.refresh_token)
    latest = await _refresh(core, login.refresh_token)

    with pytest.raises(InvalidToken):  # replaced: unknown now, and no reason to revoke the family
        await _refresh(core, replaced.refresh_token)

    assert (await _refresh(core, latest.refresh_token)).user.id == login.user.id


async def test_the_first_use_of_a_rotated_token_makes_the_family_rotate_strictly(core: UseCases) -> None:
    login = await core.signup()
    await _refresh(core, login.refresh_token)
    child = await _refresh(core, login.refresh_token)
    grandchild = await _refresh(core, child.refresh_token)
    session_id = (await core.actor(grandchild.access_token)).session_id
    assert core.store.sessions[session_id].strict_rotation is True

    with pytest.raises(RefreshTokenReused):
        await _refresh(core, login.refresh_token)  # the login token is an older token now

    assert core.store.sessions[session_id].revoked_reason == "refresh_token_reuse"
    with pytest.raises(InvalidToken):
        await _refresh(core, grandchild.refresh_token)


async def test_in_a_strict_family_presenting_the_current_token_twice_revokes_it(core: UseCases) -> None:
    login = await core.signup()
    child = await _refresh(core, login.refresh_token)
    await _refresh(core, child.refresh_token)
    with pytest.raises(RefreshTokenReused):
        await _refresh(core, child.refresh_token)


@pytest.mark.parametrize("token", ["", "unknown", "x" * 43])
async def test_unknown_token_is_invalid(core: UseCases, token: str) -> None:
    await core.signup()
    with pytest.raises(InvalidToken):
        await _refresh(core, token)


async def test_a_token_expires_after_thirty_days(core: UseCases) -> None:
    pair = await core.signup()
    core.clock.advance(core.policy.refresh_ttl)

    with pytest.raises(InvalidToken):
        await _refresh(core, pair.refresh_token)


async def test_rotation_does_not_extend_the_family_lifetime(core: UseCases) -> None:
    pair = await core.signup()
    core.clock.advance(core.policy.refresh_ttl - timedelta(seconds=1))
    rotated = await _refresh(core, pair.refresh_token)

    core.clock.advance(seconds=1)

    with pytest.raises(InvalidToken):
        await _refresh(core, rotated.refresh_token)


async def test_after_logout_the_refresh_token_is_refused(core: UseCases) -> None:
    pair = await core.signup()
    await core.logout.execute(await core.actor(pair.access_token))
    with pytest.raises(Unauthenticated):
        await _refresh(core, pair.refresh_token)


async def test_after_logout_a_strict_family_is_refused_too(core: UseCases) -> None:
    login = await core.signup()
    child = await _refresh(core, login.refresh_token)
    current = await _refresh(core, child.refresh_token)
    await core.logout.execute(await core.actor(current.access_token))
    for token in (login, child, current):
        with pytest.raises(Unauthenticated):
            await _refresh(core, token.refresh_token)


async def test_an_inactive_user_cannot_refresh_and_the_token_is_not_burned(core: UseCases) -> None:
    pair = await core.signup()
    core.store.users[pair.user.id].is_active = False

    with pytest.raises(UserInactive):
        await _refresh(core, pair.refresh_token)
    assert core.store.refresh_tokens[hash_token(pair.refresh_token)].used_at is None

    core.store.users[pair.user.id].is_active = True
    assert (await _refresh(core, pair.refresh_token)).user.id == pair.user.id
