"""Logout and "me" (SPEC.md, "Auth")."""

from __future__ import annotations

import pytest

from application.errors import TokenRevoked
from application.use_cases.auth.refresh import RefreshCommand
from domain.errors import Unauthenticated
from domain.identity import Role
from tests.unit.conftest import UseCases


async def test_logout_revokes_the_session_and_denies_the_access_token(core: UseCases) -> None:
    pair = await core.signup()
    other, _ = await core.sign_in("ana@example.com")
    actor = await core.actor(pair.access_token)

    await core.logout.execute(actor)

    session = core.store.sessions[actor.session_id]
    assert session.revoked_at == core.clock.now() and session.revoked_reason == "logout"
    assert core.store.denied_jtis[actor.jti] == actor.token_expires_at
    with pytest.raises(TokenRevoked) as raised:
        await core.actor(pair.access_token)
    assert raised.value.code == "token_revoked"
    with pytest.raises(Unauthenticated):
        await core.refresh.execute(RefreshCommand(refresh_token=pair.refresh_token))
    assert (await core.actor(other.access_token)).user_id == pair.user.id  # the other session lives on


async def test_logging_out_twice_is_harmless(core: UseCases) -> None:
    pair = await core.signup()
    actor = await core.actor(pair.access_token)
    await core.logout.execute(actor)
    await core.logout.execute(actor)  # twice is harmless
    assert list(core.store.denied_jtis) == [actor.jti]
    with pytest.raises(TokenRevoked):
        await core.actor(pair.access_token)


@pytest.mark.parametrize("role", list(Role))
async def test_every_role_may_read_itself_and_log_out(core: UseCases, role: Role) -> None:
    owner, _ = await core.new_organization()
    actor = await core.actor_with_role(owner.user.organization_id, role)

    me = await core.me.execute(actor)
    await core.logout.execute(actor)

    assert (me.id, me.role, me.organization_id) == (actor.user_id, role, owner.user.organization_id)
    assert core.store.sessions[actor.session_id].revoked_at is not None
