"""Register: a new organization and its first user, an org_admin, signed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

from application.ports.common import Clock
from application.ports.identity import AccessTokenService, PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, TokenPair, open_session
from domain.errors import InvalidValue
from domain.identity import Email, Organization, Role, User, check_password_policy


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterCommand:
    email: str
    password: str = field(repr=False)
    name: str
    organization_name: str


class RegisterUser:
    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: AccessTokenService,
                 clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._hasher, self._tokens, self._clock, self._policy = uow, hasher, tokens, clock, policy

    async def execute(self, cmd: RegisterCommand) -> TokenPair:
        email = Email(cmd.email)
        name, org_name = cmd.name.strip(), cmd.organization_name.strip()
        if not name or not org_name:
            raise InvalidValue("name and organization_name must not be blank.")
        check_password_policy(cmd.password, email=email.value)
        password_hash = await self._hasher.hash(cmd.password)
        now = self._clock.now()
        organization = Organization(id=uuid4(), name=org_name, created_at=now, updated_at=now)
        user = User(id=uuid4(), organization_id=organization.id, email=email.value, name=name,
                    role=Role.ORG_ADMIN, is_active=True, password_hash=password_hash, created_at=now,
                    updated_at=now)
        async with self._uow(organization.id) as uow:
            await uow.organizations.add(organization)
            await uow.users.add(user)
            pair = await open_session(uow, self._tokens, user, now, self._policy)
            await uow.commit()
        return pair
