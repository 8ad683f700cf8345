"""Operator command: create a super_admin (in a platform organization) or promote an existing user."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

from application.ports.common import Clock
from application.ports.identity import PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from domain.identity import Email, Organization, Role, User, check_password_policy

PLATFORM_ORGANIZATION = "PyTake Platform"


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateSuperAdminCommand:
    email: str
    name: str
    password: str = field(repr=False)


class CreateSuperAdmin:
    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def execute(self, cmd: CreateSuperAdminCommand) -> tuple[User, bool]:
        """Returns the user and whether it was newly created (False: an existing user was promoted)."""
        email = Email(cmd.email)
        check_password_policy(cmd.password, email=email.value)
        password_hash = await self._hasher.hash(cmd.password)
        now = self._clock.now()
        async with self._uow() as uow:
            existing = await uow.users.get_by_email_any_org(email.value)
        if existing is not None:
            promoted = existing.with_changes(role=Role.SUPER_ADMIN, password_hash=password_hash, is_active=True,
                                             updated_at=now)
            async with self._uow(existing.organization_id) as uow:
                await uow.users.update(promoted)
                await uow.commit()
            return promoted, False
        organization = Organization(id=uuid4(), name=PLATFORM_ORGANIZATION, created_at=now, updated_at=now)
        user = User(id=uuid4(), organization_id=organization.id, email=email.value, name=cmd.name.strip() or "Admin",
                    role=Role.SUPER_ADMIN, is_active=True, password_hash=password_hash, created_at=now, updated_at=now)
        async with self._uow(organization.id) as uow:
            await uow.organizations.add(organization)
            await uow.users.add(user)
            await uow.commit()
        return user, True
