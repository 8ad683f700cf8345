"""Org admins manage the users of their organization (SPEC.md, role matrix: "manage users")."""

from __future__ import annotations

import re

import pytest

from application.authorization import Actor
from application.errors import InvalidCredentials, InvalidToken, TokenRevoked, UserInactive, UserNotFound
from application.jobs import SendEmail
from application.use_cases.auth.common import hash_token
from application.use_cases.auth.login import LoginCommand
from application.use_cases.auth.refresh import RefreshCommand
from application.use_cases.auth.reset_password import ResetPasswordCommand
from application.use_cases.users.create_user import CreateUserCommand
from application.use_cases.users.update_user import CannotModifySelf, UpdateUserCommand
from domain.errors import InvalidValue, PermissionDenied
from domain.identity import EmailAlreadyRegistered, Role, User, WeakPassword
from tests.unit.conftest import PASSWORD, UseCases


async def _create(core: UseCases, actor: Actor, email: str = "new@example.com", role: Role = Role.AGENT,
                  password: str | None = PASSWORD, name: str = "New Person") -> User:
    return await core.create_user.execute(actor, CreateUserCommand(email=email, name=name, role=role,
                                                                   password=password))


class TestPermissions:
    @pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
    async def test_agents_and_viewers_may_not_list_create_or_update(self, core: UseCases, role: Role) -> None:
        pair, _ = await core.new_organization()
        actor = await core.actor_with_role(pair.user.organization_id, role)
        users_before = dict(core.store.users)

        with pytest.raises(PermissionDenied):
            await core.list_users.execute(actor, limit=50, offset=0)
        with pytest.raises(PermissionDenied):
            await _create(core, actor)
        with pytest.raises(PermissionDenied):
            await core.update_user.execute(actor, UpdateUserCommand(user_id=pair.user.id, name="Hacked"))

        assert core.store.users == users_before

    @pytest.mark.parametrize("role", [Role.ORG_ADMIN, Role.SUPER_ADMIN])
    async def test_org_admins_and_super_admins_may(self, core: UseCases, role: Role) -> None:
        pair, _ = await core.new_organization()
        actor = await core.actor_with_role(pair.user.organization_id, role)
        created = await _create(core, actor)
        updated = await core.update_user.execute(actor, UpdateUserCommand(user_id=created.id, name="Renamed"))
        users, total = await core.list_users.execute(actor, limit=50, offset=0)
        assert updated.name == core.store.users[created.id].name == "Renamed"
        assert total == 3 and created.id in {u.id for u in users}


class TestListUsers:
    async def test_lists_only_the_own_organization_newest_first_with_the_total(self, core: UseCases) -> None:
        pair, admin = await core.new_organization()
        await core.new_organization()  # another tenant with its admin
        seeded = []
        for role in (Role.AGENT, Role.VIEWER, Role.AGENT):
            core.clock.advance(seconds=1)
            seeded.append(await core.seed_user(admin.organization_id, role))

        page, total = await core.list_users.execute(admin, limit=2, offset=0)
        rest, _ = await core.list_users.execute(admin, limit=2, offset=2)

        assert total == 4
        assert [u.id for u in page + rest] == [seeded[2].id, seeded[1].id, seeded[0].id, pair.user.id]
        assert all(u.organization_id == admin.organization_id for u in page + rest)


class TestCreateUser:
    async def test_with_a_password_the_user_can_sign_in(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        created = await _create(core, admin, " New@Example.com ", Role.VIEWER, name="  New Person ")

        stored = core.store.users[created.id]
        assert (stored.email, stored.name, stored.role, stored.organization_id, stored.is_active) == (
            "new@example.com", "New Person", Role.VIEWER, admin.organization_id, True)
        assert (await core.login.execute(LoginCommand(email="new@example.com", password=PASSWORD))).user.id == \
            created.id
        assert [j for j in core.store.queued if j.entrypoint == SendEmail.entrypoint] == []

    async def test_without_a_password_an_invitation_is_mailed(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        created = await _create(core, admin, "invitee@example.com", password=None)

        (job,) = [j for j in core.store.queued if j.entrypoint == SendEmail.entrypoint]
        assert job.payload["to"] == "invitee@example.com"
        (token,) = re.findall(r"/reset-password#token=(\S+)", job.payload["body"])
        assert core.store.reset_tokens[hash_token(token)].user_id == created.id
        with pytest.raises(InvalidCredentials):
            await core.login.execute(LoginCommand(email="invitee@example.com", password=PASSWORD))

        await core.reset_password.execute(ResetPasswordCommand(token=token, new_password="my own passphrase"))

        pair = await core.login.execute(LoginCommand(email="invitee@example.com", password="my own passphrase"))
        assert pair.user.id == created.id

    async def test_an_org_admin_cannot_grant_super_admin(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        with pytest.raises(PermissionDenied):
            await _create(core, admin, role=Role.SUPER_ADMIN)
        assert len(core.store.users) == 1

    async def test_a_super_admin_can(self, core: UseCases) -> None:
        pair, _ = await core.new_organization()
        root = await core.actor_with_role(pair.user.organization_id, Role.SUPER_ADMIN)
        assert (await _create(core, root, role=Role.SUPER_ADMIN)).role is Role.SUPER_ADMIN

    async def test_a_taken_email_in_any_organization_is_refused(self, core: UseCases) -> None:
        await core.new_organization("taken@example.com")
        _, admin = await core.new_organization()
        users = dict(core.store.users)
        with pytest.raises(EmailAlreadyRegistered):
            await _create(core, admin, "TAKEN@example.com", password=None)
        assert core.store.users == users and core.store.queued == [] and core.store.reset_tokens == {}

    async def test_weak_password_or_blank_name_is_refused(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        with pytest.raises(WeakPassword):
            await _create(core, admin, password="new@example.com")
        with pytest.raises(InvalidValue):
            await _create(core, admin, name="   ")
        assert len(core.store.users) == 1


class TestUpdateUser:
    async def test_partial_update_keeps_the_rest(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        agent = await core.seed_user(admin.organization_id, Role.AGENT)
        core.clock.advance(minutes=1)

        renamed = await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, name=" Bia "))

        stored = core.store.users[agent.id]
        assert renamed == stored
        assert (stored.name, stored.role, stored.is_active) == ("Bia", Role.AGENT, True)
        assert stored.updated_at == core.clock.now() != stored.created_at
        promoted = await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, role=Role.ORG_ADMIN))
        assert (promoted.name, promoted.role) == ("Bia", Role.ORG_ADMIN) == (core.store.users[agent.id].name,
                                                                             core.store.users[agent.id].role)

    async def test_an_org_admin_cannot_grant_or_touch_super_admin(self, core: UseCases) -> None:
        pair, admin = await core.new_organization()
        agent = await core.seed_user(admin.organization_id, Role.AGENT)
        root = await core.seed_user(admin.organization_id, Role.SUPER_ADMIN)
        with pytest.raises(PermissionDenied):
            await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, role=Role.SUPER_ADMIN))
        with pytest.raises(PermissionDenied):
            await core.update_user.execute(admin, UpdateUserCommand(user_id=root.id, is_active=False))
        assert core.store.users[agent.id].role is Role.AGENT
        assert core.store.users[root.id].is_active

    @pytest.mark.parametrize("change", [{"role": Role.AGENT}, {"role": Role.VIEWER}, {"is_active": False}])
    async def test_nobody_can_demote_or_deactivate_themselves(self, core: UseCases, change: dict[str, object]) -> None:
        pair, admin = await core.new_organization()
        with pytest.raises(CannotModifySelf) as raised:
            await core.update_user.execute(admin, UpdateUserCommand(user_id=admin.user_id, **change))
        assert raised.value.code == "cannot_modify_self"
        stored = core.store.users[admin.user_id]
        assert (stored.role, stored.is_active) == (Role.ORG_ADMIN, True)

    async def test_own_name_and_unchanged_role_are_fine(self, core: UseCases) -> None:
        _, admin = await core.new_organization()
        updated = await core.update_user.execute(admin, UpdateUserCommand(
            user_id=admin.user_id, name="Me", role=Role.ORG_ADMIN, is_active=True))
        assert (updated.name, updated.role) == ("Me", Role.ORG_ADMIN)

    async def test_deactivation_revokes_the_sessions_and_reactivation_lets_the_user_back(
            self, core: UseCases) -> None:
        owner, admin = await core.new_organization()
        agent = await core.seed_user(admin.organization_id, Role.AGENT)
        pair, _ = await core.sign_in(agent.email)
        other, _ = await core.sign_in(agent.email)

        await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, is_active=False))

        sessions = [s for s in core.store.sessions.values() if s.user_id == agent.id]
        assert len(sessions) == 2 and all(s.revoked_reason == "deactivated" for s in sessions)
        with pytest.raises(TokenRevoked):
            await core.actor(other.access_token)
        with pytest.raises(InvalidToken):
            await core.refresh.execute(RefreshCommand(refresh_token=pair.refresh_token))
        with pytest.raises(UserInactive):
            await core.login.execute(LoginCommand(email=agent.email, password=PASSWORD))
        assert (await core.actor(owner.access_token)).user_id == admin.user_id  # the admin's session is untouched

        await core.update_user.execute(admin, UpdateUserCommand(user_id=agent.id, is_active=True))
        assert (await core.sign_in(agent.email))[1].user_id == agent.id

    async def test_another_organizations_user_is_not_found(self, core: UseCases) -> None:
        stranger, _ = await core.new_organization()
        _, admin = await core.new_organization()
        before = core.store.users[stranger.user.id]

        with pytest.raises(UserNotFound):
            await core.update_user.execute(admin, UpdateUserCommand(user_id=stranger.user.id, is_active=False))
        with pytest.raises(UserNotFound):
            await core.update_user.execute(admin, UpdateUserCommand(user_id=stranger.user.id, name="x"))

        assert core.store.users[stranger.user.id] == before
        assert all(s.revoked_at is None for s in core.store.sessions.values())
