"""Org admins change a user of their organization (name, role, activity); never themselves."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.errors import UserNotFound
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.users.common import _check_grant
from domain.errors import InvalidValue, PermissionDenied, RuleViolation
from domain.identity import Role, User


class CannotModifySelf(RuleViolation):
    code = "cannot_modify_self"
    default_message = "You cannot change your own role or deactivate yourself."


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateUserCommand:
    user_id: UUID
    name: str | None = None
    role: Role | None = None
    is_active: bool | None = None


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
