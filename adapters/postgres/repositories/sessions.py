"""Refresh-token families, denied access tokens, auth throttling and password-reset tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.tables import (
    auth_sessions,
    auth_throttle,
    password_reset_tokens,
    refresh_tokens,
    revoked_access_tokens,
)
from application.ports.identity import (
    LoginThrottle,
    PasswordResetTokenRepository,
    RefreshTokenRecord,
    SessionRepository,
    seconds_left,
)

_TOKEN_COLUMNS = (refresh_tokens.c.id, refresh_tokens.c.session_id, refresh_tokens.c.parent_id,
                  refresh_tokens.c.used_at, refresh_tokens.c.expires_at, auth_sessions.c.user_id,
                  auth_sessions.c.organization_id, auth_sessions.c.revoked_at, auth_sessions.c.strict_rotation)


def _record(row: Any) -> RefreshTokenRecord:
    return RefreshTokenRecord(id=row.id, session_id=row.session_id, user_id=row.user_id,
                              organization_id=row.organization_id, parent_id=row.parent_id, used_at=row.used_at,
                              revoked_at=row.revoked_at, expires_at=row.expires_at,
                              strict_rotation=row.strict_rotation)


class SqlAlchemySessionRepository(SessionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def create_session(self, *, session_id: UUID, user_id: UUID, organization_id: UUID, now: datetime,
                             expires_at: datetime) -> None:
        await self._s.execute(insert(auth_sessions).values(id=session_id, user_id=user_id,
                                                           organization_id=organization_id, created_at=now,
                                                           expires_at=expires_at))

    async def add_refresh_token(self, *, token_id: UUID, session_id: UUID, token_hash: str,
                                parent_id: UUID | None, now: datetime, expires_at: datetime) -> None:
        await self._s.execute(insert(refresh_tokens).values(id=token_id, session_id=session_id,
                                                            token_hash=token_hash, parent_id=parent_id,
                                                            issued_at=now, expires_at=expires_at))

    async def find_refresh_token(self, token_hash: str, *, lock_family: bool = False) -> RefreshTokenRecord | None:
        query = select(*_TOKEN_COLUMNS).select_from(
            refresh_tokens.join(auth_sessions, auth_sessions.c.id == refresh_tokens.c.session_id)).where(
            refresh_tokens.c.token_hash == token_hash)
        if lock_family:  # the token's row and its session's: a waiting refresh then reads both as committed
            query = query.with_for_update()
        row = (await self._s.execute(query)).first()
        return _record(row) if row else None

    async def mark_refresh_token_used(self, token_id: UUID, now: datetime) -> None:
        await self._s.execute(update(refresh_tokens).where(refresh_tokens.c.id == token_id,
                                                           refresh_tokens.c.used_at.is_(None)).values(used_at=now))

    async def discard_pending_children(self, session_id: UUID, parent_id: UUID) -> None:
        await self._s.execute(delete(refresh_tokens).where(
            refresh_tokens.c.session_id == session_id, refresh_tokens.c.parent_id == parent_id,
            refresh_tokens.c.used_at.is_(None)))

    async def make_rotation_strict(self, session_id: UUID) -> None:
        await self._s.execute(update(auth_sessions).where(auth_sessions.c.id == session_id)
                              .values(strict_rotation=True))

    async def revoke_session(self, session_id: UUID, now: datetime, reason: str) -> None:
        await self._s.execute(update(auth_sessions).where(auth_sessions.c.id == session_id,
                                                          auth_sessions.c.revoked_at.is_(None))
                              .values(revoked_at=now, revoked_reason=reason))

    async def revoke_user_sessions(self, user_id: UUID, now: datetime, reason: str) -> None:
        await self._s.execute(update(auth_sessions).where(auth_sessions.c.user_id == user_id,
                                                          auth_sessions.c.revoked_at.is_(None))
                              .values(revoked_at=now, revoked_reason=reason))

    async def is_session_active(self, session_id: UUID, now: datetime) -> bool:
        row = (await self._s.execute(select(auth_sessions.c.id).where(
            auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None),
            auth_sessions.c.expires_at > now))).first()
        return row is not None

    async def deny_access_token(self, jti: str, expires_at: datetime) -> None:
        await self._s.execute(text(
            "INSERT INTO revoked_access_tokens (jti, expires_at) VALUES (:jti, :exp) ON CONFLICT DO NOTHING"),
            {"jti": jti, "exp": expires_at})
        await self._s.execute(delete(revoked_access_tokens).where(
            revoked_access_tokens.c.expires_at < expires_at - timedelta(days=1)))

    async def is_access_token_denied(self, jti: str) -> bool:
        row = (await self._s.execute(select(revoked_access_tokens.c.jti).where(
            revoked_access_tokens.c.jti == jti))).first()
        return row is not None


class SqlAlchemyLoginThrottle(LoginThrottle):
    """One row per key: a fixed window counter, and an exponential block once the limit is reached."""

    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def blocked_for(self, key: str, now: datetime) -> int:
        row = (await self._s.execute(select(auth_throttle.c.blocked_until).where(auth_throttle.c.key == key))
               ).first()
        if row is None or row.blocked_until is None or row.blocked_until <= now:
            return 0
        return max(1, int((row.blocked_until - now).total_seconds() + 0.999))

    async def _count(self, key: str, now: datetime, window_seconds: int) -> tuple[int, datetime]:
        row = (await self._s.execute(text(
            """INSERT INTO auth_throttle (key, window_start, count) VALUES (:key, :now, 1)
               ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN auth_throttle.window_start <= :now - make_interval(secs => :window)
                              THEN 1 ELSE auth_throttle.count + 1 END,
                 window_start = CASE WHEN auth_throttle.window_start <= :now - make_interval(secs => :window)
                              THEN :now ELSE auth_throttle.window_start END
               RETURNING count AS hits, window_start"""), {"key": key, "now": now, "window": window_seconds})).one()
        return int(row.hits), row.window_start

    async def record_failure(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> None:
        count, _ = await self._count(key, now, window_seconds)
        if count >= limit:
            seconds = min(60 * 2 ** (count - limit), 15 * 60)
            await self._s.execute(update(auth_throttle).where(auth_throttle.c.key == key)
                                  .values(blocked_until=now + timedelta(seconds=seconds)))

    async def count_hit(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> int:
        count, window_start = await self._count(key, now, window_seconds)
        return seconds_left(count, limit, window_start + timedelta(seconds=window_seconds), now)

    async def clear(self, key: str) -> None:
        await self._s.execute(delete(auth_throttle).where(auth_throttle.c.key == key))


class SqlAlchemyPasswordResetTokenRepository(PasswordResetTokenRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, *, token_id: UUID, user_id: UUID, token_hash: str, now: datetime,
                  expires_at: datetime) -> None:
        await self._s.execute(update(password_reset_tokens).where(
            password_reset_tokens.c.user_id == user_id, password_reset_tokens.c.used_at.is_(None))
            .values(used_at=now))
        await self._s.execute(insert(password_reset_tokens).values(
            id=token_id, user_id=user_id, token_hash=token_hash, created_at=now, expires_at=expires_at))

    async def owner_of_valid(self, token_hash: str, now: datetime) -> UUID | None:
        row = (await self._s.execute(select(password_reset_tokens.c.user_id).where(
            password_reset_tokens.c.token_hash == token_hash, password_reset_tokens.c.used_at.is_(None),
            password_reset_tokens.c.expires_at > now).with_for_update())).first()
        return row.user_id if row else None

    async def consume(self, token_hash: str, now: datetime) -> UUID | None:
        row = (await self._s.execute(update(password_reset_tokens).where(
            password_reset_tokens.c.token_hash == token_hash, password_reset_tokens.c.used_at.is_(None),
            password_reset_tokens.c.expires_at > now).values(used_at=now)
            .returning(password_reset_tokens.c.user_id))).first()
        return row.user_id if row else None
