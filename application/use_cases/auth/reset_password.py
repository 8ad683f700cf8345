"""Reset password with a mailed token: burns the token and revokes every session of the user.

The token is checked before the new password is hashed (an unknown token costs no argon2 hash), and attempts
are throttled per client address."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from application.errors import InvalidResetToken, PasswordResetThrottled
from application.ports.common import Clock
from application.ports.identity import PasswordHasher
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, hash_token
from domain.errors import DomainError
from domain.identity import User, WeakPassword, check_password_policy

RESET_PASSWORD_MESSAGE = "Your password has been reset. Sign in with the new password."


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetPasswordCommand:
    token: str = field(repr=False)
    new_password: str = field(repr=False)
    client_ip: str | None = None


def _check_new_password(password: str, email: str | None = None) -> None:
    try:
        check_password_policy(password, email=email)
    except WeakPassword as error:
        error.field = "new_password"
        raise


class ResetPassword:
    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._hasher, self._clock, self._policy = uow, hasher, clock, policy

    async def execute(self, cmd: ResetPasswordCommand) -> str:
        _check_new_password(cmd.new_password)  # a weak password leaves the token unused
        now = self._clock.now()
        token_hash = hash_token(cmd.token)
        async with self._uow() as uow:
            try:
                await self._admit(uow, cmd.client_ip, now)
                user = await self._owner(uow, token_hash, now)
                _check_new_password(cmd.new_password, user.email)
            except DomainError:
                await uow.commit()  # the attempt stays counted; the token is untouched
                raise
            password_hash = await self._hasher.hash(cmd.new_password)
            if await uow.reset_tokens.consume(token_hash, now) != user.id:
                raise InvalidResetToken()
            await uow.users.update(user.with_changes(password_hash=password_hash, updated_at=now))
            await uow.sessions.revoke_user_sessions(user.id, now, "password_reset")
            await uow.commit()
        return RESET_PASSWORD_MESSAGE

    async def _admit(self, uow: UnitOfWork, client_ip: str | None, now: datetime) -> None:
        if not client_ip:
            return
        p = self._policy
        wait = await uow.login_throttle.count_hit(f"reset-attempt:ip:{client_ip}", now, limit=p.reset_attempts_per_ip,
                                                  window_seconds=p.reset_attempts_window_seconds)
        if wait > 0:
            raise PasswordResetThrottled(retry_after_seconds=wait)

    @staticmethod
    async def _owner(uow: UnitOfWork, token_hash: str, now: datetime) -> User:
        user_id: UUID | None = await uow.reset_tokens.owner_of_valid(token_hash, now)
        user = await uow.users.get_any_org(user_id) if user_id is not None else None
        if user is None:
            raise InvalidResetToken()
        return user
