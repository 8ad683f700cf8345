"""What several auth use cases share: the policy, token hashing and opening a session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from application.ports.identity import AccessTokenService
from application.ports.uow import UnitOfWork
from domain.identity import User


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthPolicy:
    refresh_ttl: timedelta = timedelta(days=30)
    reset_ttl: timedelta = timedelta(minutes=30)
    login_failures_per_email: int = 5
    login_failures_per_ip: int = 50
    login_window_seconds: int = 15 * 60
    reset_requests_per_email_per_hour: int = 3
    reset_requests_per_ip_per_hour: int = 20
    reset_attempts_per_ip: int = 10  # POST /auth/reset-password, per client address and window
    reset_attempts_window_seconds: int = 15 * 60
    frontend_url: str = "http://localhost:3000"


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenPair:
    access_token: str
    refresh_token: str
    user: User


def hash_token(token: str) -> str:
    """Opaque tokens are stored as SHA-256 hex digests only."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


async def open_session(uow: UnitOfWork, tokens: AccessTokenService, user: User, now: datetime,
                       policy: AuthPolicy) -> TokenPair:
    """A new refresh-token family with its first token, and an access token bound to it."""
    session_id = uuid4()
    refresh = new_opaque_token()
    expires_at = now + policy.refresh_ttl
    await uow.sessions.create_session(session_id=session_id, user_id=user.id,
                                      organization_id=user.organization_id, now=now, expires_at=expires_at)
    await uow.sessions.add_refresh_token(token_id=uuid4(), session_id=session_id, token_hash=hash_token(refresh),
                                         parent_id=None, now=now, expires_at=expires_at)
    access = tokens.issue(user=user, session_id=session_id, now=now)
    return TokenPair(access_token=access.token, refresh_token=refresh, user=user)
