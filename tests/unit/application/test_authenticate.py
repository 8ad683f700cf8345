"""Bearer token -> Actor, with role and active flag read from the store each time (SPEC.md, "Tenancy")."""

from __future__ import annotations

from uuid import uuid4

import pytest

from application.errors import InvalidToken, OrganizationHeaderForbidden, OrganizationNotFound
from application.use_cases.users.update_user import UpdateUserCommand
from domain.errors import Unauthenticated
from domain.identity import Role
from tests.unit.conftest import UseCases


async def test_the_actor_is_the_token_owner(core: UseCases) -> None:
    pair = await core.signup()
    actor = await core.actor(pair.access_token)
    claims = core.tokens.decode(pair.access_token)
    assert (actor.user_id, actor.organization_id, actor.role) == (pair.user.id, pair.user.organization_id,
                                                                  Role.ORG_ADMIN)
    assert (actor.session_id, actor.jti, actor.token_expires_at) == (claims.session_id, claims.jti,
                                                                     claims.expires_at)


@pytest.mark.parametrize("token", ["", "garbage", "Bearer x"])
async def test_garbage_is_invalid(core: UseCases, token: str) -> None:
    with pytest.raises(InvalidToken):
        await core.actor(token)


async def test_an_expired_access_token_is_invalid(core: UseCases) -> None:
    pair = await core.signup()
    core.clock.advance(minutes=15)
    with pytest.raises(InvalidToken):
        await core.actor(pair.access_token)


async def test_the_role_comes_from_the_store_not_from_the_token(core: UseCases) -> None:
    _, admin = await core.new_organization()
    agent = await core.seed_user(admin.organization_id, Role.AGENT)
    pair, before = await core.sign_in(agent.email)
    assert before.role is Role.AGENT

    await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, role=Role.VIEWER))

    assert core.tokens.decode(pair.access_token).role is Role.AGENT  # the token still says agent
    assert (await core.actor(pair.access_token)).role is Role.VIEWER


async def test_a_deactivated_user_is_refused(core: UseCases) -> None:
    pair = await core.signup()
    core.store.users[pair.user.id].is_active = False  # sessions left alone: the active flag alone decides
    with pytest.raises(InvalidToken):
        await core.actor(pair.access_token)


async def test_a_user_deactivated_by_an_admin_is_refused(core: UseCases) -> None:
    _, admin = await core.new_organization()
    agent = await core.seed_user(admin.organization_id, Role.AGENT)
    pair, _ = await core.sign_in(agent.email)
    await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, is_active=False))
    with pytest.raises(Unauthenticated):
        await core.actor(pair.access_token)


async def test_super_admin_may_act_in_another_organization(core: UseCases) -> None:
    _, own = await core.new_organization(name="Platform")
    _, other = await core.new_organization(name="Customer")
    root = await core.seed_user(own.organization_id, Role.SUPER_ADMIN)
    pair, _ = await core.sign_in(root.email)

    acting = await core.actor(pair.access_token, other.organization_id)
    same = await core.actor(pair.access_token, own.organization_id)

    assert acting.organization_id == other.organization_id
    assert acting.role is Role.SUPER_ADMIN and acting.user_id == root.id
    assert same.organization_id == own.organization_id
    assert (await core.actor(pair.access_token)).organization_id == own.organization_id


@pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.AGENT, Role.VIEWER])
async def test_other_roles_may_not_choose_another_organization(core: UseCases, role: Role) -> None:
    _, own = await core.new_organization()
    _, other = await core.new_organization()
    user = await core.seed_user(own.organization_id, role)
    pair, _ = await core.sign_in(user.email)

    with pytest.raises(OrganizationHeaderForbidden) as raised:
        await core.actor(pair.access_token, other.organization_id)
    with pytest.raises(OrganizationHeaderForbidden):
        await core.actor(pair.access_token, uuid4())  # unknown ids are forbidden alike, revealing nothing

    assert raised.value.code == "organization_header_forbidden"
    with pytest.raises(OrganizationHeaderForbidden):  # SPEC: anyone but super_admin sending the header gets 403
        await core.actor(pair.access_token, own.organization_id)


async def test_super_admin_naming_an_unknown_organization(core: UseCases) -> None:
    _, own = await core.new_organization()
    root = await core.seed_user(own.organization_id, Role.SUPER_ADMIN)
    pair, _ = await core.sign_in(root.email)
    with pytest.raises(OrganizationNotFound):
        await core.actor(pair.access_token, uuid4())
