"""Org admins list the users of their organization."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.identity import User


class ListUsers:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[User], int]:
        actor.require(Permission.MANAGE_USERS)
        async with self._uow(actor.organization_id) as uow:
            return await uow.users.list(limit=limit, offset=offset)
