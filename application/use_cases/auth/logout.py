"""Logout: revoke the caller's refresh-token family and deny the access token at once."""

from __future__ import annotations

from application.authorization import Actor
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory


class LogoutUser:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.sessions.revoke_session(actor.session_id, now, "logout")
            await uow.sessions.deny_access_token(actor.jti, actor.token_expires_at)
            await uow.commit()
