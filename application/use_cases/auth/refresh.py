"""Refresh: a new access token and a rotated refresh token from a refresh token of a family (session).

A family keeps accepting its login token until its client first presents a rotated token (the child a refresh
returned): a client written to the contract reads only ``access_token`` and stays signed in. Each refresh with the
login token replaces the family's pending child, so the family holds at most two tokens. From the first
presentation of a rotated token the family rotates strictly: every token works once, and presenting a used one
revokes the whole family (theft detection).
"""

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
        async with self._uow() as uow:
            record = await uow.sessions.find_refresh_token(hash_token(cmd.refresh_token), lock_family=True)
            if record is None or record.revoked_at is not None or record.expires_at <= now \
                    or not await uow.sessions.is_session_active(record.session_id, now):
                raise InvalidToken()
            if record.strict_rotation and record.used_at is not None:
                await uow.sessions.revoke_session(record.session_id, now, "refresh_token_reuse")
                await uow.commit()
                raise RefreshTokenReused()
            user = await uow.users.get_any_org(record.user_id)
            if user is None:
                raise InvalidToken()
            if not user.is_active:
                raise UserInactive()
            if not record.strict_rotation:
                if record.parent_id is None:  # the login token again: its previous pending child goes
                    await uow.sessions.discard_pending_children(record.session_id, record.id)
                else:  # the client presents a rotated token: it rotates, so rotation is strict from now on
                    await uow.sessions.make_rotation_strict(record.session_id)
            await uow.sessions.mark_refresh_token_used(record.id, now)
            refresh = new_opaque_token()
            await uow.sessions.add_refresh_token(token_id=uuid4(), session_id=record.session_id,
                                                 token_hash=hash_token(refresh), parent_id=record.id, now=now,
                                                 expires_at=record.expires_at)
            access = self._tokens.issue(user=user, session_id=record.session_id, now=now)
            await uow.commit()
        return TokenPair(access_token=access.token, refresh_token=refresh, user=user)
