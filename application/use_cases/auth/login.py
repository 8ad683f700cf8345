"""Login with email and password, throttled per email and per client address."""

from __future__ import annotations

from dataclasses import dataclass, field

from application.errors import InvalidCredentials, LoginThrottled, UserInactive
from application.ports.common import Clock
from application.ports.identity import AccessTokenService, PasswordHasher
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, TokenPair, open_session
from domain.errors import InvalidValue


@dataclass(frozen=True, slots=True, kw_only=True)
class LoginCommand:
    email: str
    password: str = field(repr=False)
    client_ip: str | None = None


class LoginUser:
    def __init__(self, *, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: AccessTokenService,
                 clock: Clock, policy: AuthPolicy) -> None:
        self._uow, self._hasher, self._tokens, self._clock, self._policy = uow, hasher, tokens, clock, policy

    async def execute(self, cmd: LoginCommand) -> TokenPair:
        email = cmd.email.strip().lower()
        keys = [f"login:email:{email}"] + ([f"login:ip:{cmd.client_ip}"] if cmd.client_ip else [])
        now = self._clock.now()
        async with self._uow() as uow:
            wait = max([await uow.login_throttle.blocked_for(key, now) for key in keys])
            if wait > 0:
                raise LoginThrottled(retry_after_seconds=wait)
            user = await uow.users.get_by_email_any_org(email) if len(email) <= 254 else None
        if len(cmd.password) > 1024:
            raise InvalidValue("The password is too long.")
        if user is None:  # one verification against the process's dummy hash: as slow as a wrong password
            await self._hasher.verify(await self._hasher.dummy_hash(), cmd.password)
            ok = False
        else:
            ok = await self._hasher.verify(user.password_hash, cmd.password)
        async with self._uow(user.organization_id if (ok and user) else None) as uow:
            if not ok or user is None:
                p = self._policy
                await uow.login_throttle.record_failure(keys[0], now, limit=p.login_failures_per_email,
                                                        window_seconds=p.login_window_seconds)
                if len(keys) > 1:
                    await uow.login_throttle.record_failure(keys[1], now, limit=p.login_failures_per_ip,
                                                            window_seconds=p.login_window_seconds)
                await uow.commit()
                raise InvalidCredentials()
            if not user.is_active:
                raise UserInactive()
            await uow.login_throttle.clear(keys[0])
            pair = await open_session(uow, self._tokens, user, now, self._policy)
            await uow.commit()
        return pair
