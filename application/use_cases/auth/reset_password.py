"""Reset password with a mailed token: burns the token and revokes every session of the user."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.errors import InvalidResetToken
from application.ports.common import Clock
from application.ports.identity import PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import hash_token
from domain.identity import WeakPassword, check_password_policy

RESET_PASSWORD_MESSAGE = "Your password has been reset. Sign in with the new password."


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPasswordCommand:
    token: str = field(repr=False)
    new_password: str = field(repr=False)


class ResetPassword:
    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def execute(self, cmd: ResetPasswordCommand) -> str:
        try:
            check_password_policy(cmd.new_password)  # a weak password leaves the token unused
        except WeakPassword as error:
            error.field = "new_password"
            raise
        password_hash = await self._hasher.hash(cmd.new_password)
        now = self._clock.now()
        async with self._uow() as uow:
            user_id = await uow.reset_tokens.consume(hash_token(cmd.token), now)
            if user_id is None:
                raise InvalidResetToken()
            user = await uow.users.get_any_org(user_id)
            if user is None:
                raise InvalidResetToken()
            try:
                check_password_policy(cmd.new_password, email=user.email)
            except WeakPassword as error:
                error.field = "new_password"
                raise
            await uow.users.update(user.with_changes(password_hash=password_hash, updated_at=now))
            await uow.sessions.revoke_user_sessions(user.id, now, "password_reset")
            await uow.commit()
        return RESET_PASSWORD_MESSAGE
