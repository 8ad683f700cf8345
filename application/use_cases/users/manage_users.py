"""Org admins list, invite and manage the users of their organization."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.errors import UserNotFound
from application.jobs import SendEmail, enqueue
from application.ports.common import Clock
from application.ports.identity import PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, hash_token, new_opaque_token
from domain.errors import InvalidValue, PermissionDenied, RuleViolation
from domain.identity import Email, Role, User, check_password_policy

INVITATION_TTL = timedelta(days=3)


class CannotModifySelf(RuleViolation):
    code = "cannot_modify_self"
    default_message = "You cannot change your own role or deactivate yourself."


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUserCommand:
    email: str
    name: str
    role: Role
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    user_id: UUID
    name: str | None = None
    role: Role | None = None
    is_active: bool | None = None


def _check_grant(actor: Actor, role: Role) -> None:
    if role is Role.SUPER_ADMIN and actor.role is not Role.SUPER_ADMIN:
        raise PermissionDenied("Only a super_admin may grant super_admin.")


class ListUsers:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[User], int]:
        actor.require(Permission.MANAGE_USERS)
        async with self._uow(actor.organization_id) as uow:
            return await uow.users.list(limit=limit, offset=offset)


class CreateUser:
    """Creates the user; without a password an invitation link to choose one is mailed."""

    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock,
                 policy: AuthPolicy) -> None:
        self._uow, self._hasher, self._clock, self._policy = uow, hasher, clock, policy

    async def execute(self, actor: Actor, cmd: CreateUserCommand) -> User:
        actor.require(Permission.MANAGE_USERS)
        _check_grant(actor, cmd.role)
        email = Email(cmd.email)
        name = cmd.name.strip()
        if not name:
            raise InvalidValue("name must not be blank.")
        password = cmd.password
        if password is not None:
            check_password_policy(password, email=email.value)
        now = self._clock.now()
        password_hash = await self._hasher.hash(password if password is not None else secrets.token_urlsafe(32))
        user = User(id=uuid4(), organization_id=actor.organization_id, email=email.value, name=name,
                    role=cmd.role, is_active=True, password_hash=password_hash, created_at=now, updated_at=now)
        async with self._uow(actor.organization_id) as uow:
            await uow.users.add(user)
            if password is None:
                token = new_opaque_token()
                await uow.reset_tokens.add(token_id=uuid4(), user_id=user.id, token_hash=hash_token(token),
                                           now=now, expires_at=now + INVITATION_TTL)
                link = f"{self._policy.frontend_url.rstrip('/')}/reset-password#token={token}"
                body = f"Hello {user.name},\n\nChoose your password within 3 days:\n{link}\n"
                await enqueue(uow, SendEmail(to=user.email, subject="You have been invited to PyTake", body=body))
            await uow.commit()
        return user


class UpdateUser:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: UpdateUserCommand) -> User:
        actor.require(Permission.MANAGE_USERS)
        if cmd.role is not None:
            _check_grant(actor, cmd.role)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            user = await uow.users.get(cmd.user_id)
            if user is None:
                raise UserNotFound()
            if user.role is Role.SUPER_ADMIN and actor.role is not Role.SUPER_ADMIN:
                raise PermissionDenied("Only a super_admin may change a super_admin.")
            if user.id == actor.user_id and (
                (cmd.role is not None and cmd.role is not user.role) or cmd.is_active is False
            ):
                raise CannotModifySelf()
            name = cmd.name.strip() if cmd.name is not None else user.name
            if not name:
                raise InvalidValue("name must not be blank.")
            updated = user.with_changes(
                name=name, role=cmd.role or user.role,
                is_active=user.is_active if cmd.is_active is None else cmd.is_active, updated_at=now)
            await uow.users.update(updated)
            if not updated.is_active and user.is_active:
                await uow.sessions.revoke_user_sessions(user.id, now, "deactivated")
            await uow.commit()
        return updated
