"""Org admins invite a user to their organization."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import uuid4

from application.authorization import Actor, Permission
from application.jobs import SendEmail, enqueue
from application.ports.common import Clock
from application.ports.identity import PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, hash_token, new_opaque_token
from application.use_cases.users.common import _check_grant
from domain.errors import InvalidValue
from domain.identity import Email, Role, User, check_password_policy

INVITATION_TTL = timedelta(days=3)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateUserCommand:
    email: str
    name: str
    role: Role
    password: str | None = field(default=None, repr=False)


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
