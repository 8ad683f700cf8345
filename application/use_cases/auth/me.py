"""The authenticated user's own record."""

from __future__ import annotations

from application.authorization import Actor
from application.errors import UserNotFound
from application.ports.uow import UnitOfWorkFactory
from domain.identity import User


class GetCurrentUser:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor) -> User:
        async with self._uow() as uow:
            user = await uow.users.get_any_org(actor.user_id)
        if user is None:
            raise UserNotFound()
        return user
