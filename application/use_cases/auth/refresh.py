"""Refresh: rotate a refresh token; presenting a used one revokes its whole family."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import uuid4

from application.errors import InvalidToken, RefreshTokenReused, UserInactive
from application.ports.common import Clock
from application.ports.identity import AccessTokenService
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import AuthPolicy, TokenPair, hash_token, new_opaque_token


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshCommand:
    refresh_token: str = field(repr=False)


class RefreshSession:
    def __init__(self, *, uow: UnitOfWorkFactory, tokens: AccessTokenService, clock: Clock,
                 policy: AuthPolicy) -> None:
        self._uow, self._tokens, self._clock, self._policy = uow, tokens, clock, policy

    async def execute(self, cmd: RefreshCommand) -> TokenPair:
        now = self._clock.now()
        token_hash = hash_token(cmd.refresh_token)
        async with self._uow() as uow:
            record = await uow.sessions.consume_refresh_token(token_hash, now)
            if record is None:
                known = await uow.sessions.find_refresh_token(token_hash)
                if known is not None and known.used_at is not None and known.revoked_at is None:
                    await uow.sessions.revoke_session(known.session_id, now, "refresh_token_reuse")
                    await uow.commit()
                    raise RefreshTokenReused()
                raise InvalidToken()
            if not await uow.sessions.is_session_active(record.session_id, now):
                raise InvalidToken()
            user = await uow.users.get_any_org(record.user_id)
            if user is None:
                raise InvalidToken()
            if not user.is_active:
                raise UserInactive()
            refresh = new_opaque_token()
            await uow.sessions.add_refresh_token(token_id=uuid4(), session_id=record.session_id,
                                                 token_hash=hash_token(refresh), parent_id=record.id, now=now,
                                                 expires_at=record.expires_at)
            access = self._tokens.issue(user=user, session_id=record.session_id, now=now)
            await uow.commit()
        return TokenPair(access_token=access.token, refresh_token=refresh, user=user)
