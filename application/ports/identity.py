"""Ports of organizations, users, sessions, throttling and password reset."""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.identity import Organization, Role, User


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessClaims:
    user_id: UUID
    organization_id: UUID
    role: Role
    session_id: UUID
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedAccessToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class RefreshTokenRecord:
    """A refresh token with what its family (session) says about it."""

    id: UUID
    session_id: UUID
    user_id: UUID
    organization_id: UUID
    parent_id: UUID | None  # None: the family's login token
    used_at: datetime | None  # first presented at
    revoked_at: datetime | None  # of the family
    expires_at: datetime
    strict_rotation: bool  # the family's client has presented a rotated token


class OrganizationRepository(Protocol):
    @abstractmethod
    async def add(self, organization: Organization) -> None: ...

    @abstractmethod
    async def get(self, organization_id: UUID) -> Organization | None: ...


class UserRepository(Protocol):
    """Scoped to the unit of work's organization, except the ``*_any_org`` methods (system scope)."""

    @abstractmethod
    async def add(self, user: User) -> None:
        """Raises EmailAlreadyRegistered when the email exists in any organization."""

    @abstractmethod
    async def get(self, user_id: UUID) -> User | None: ...

    @abstractmethod
    async def update(self, user: User) -> None: ...

    @abstractmethod
    async def list(self, *, limit: int, offset: int) -> tuple[list[User], int]: ...

    @abstractmethod
    async def get_by_email_any_org(self, email: str) -> User | None: ...

    @abstractmethod
    async def get_any_org(self, user_id: UUID) -> User | None: ...


class SessionRepository(Protocol):
    """Refresh-token families (sessions), their tokens and denied access-token ids (system scope)."""

    @abstractmethod
    async def create_session(
        self, *, session_id: UUID, user_id: UUID, organization_id: UUID, now: datetime, expires_at: datetime
    ) -> None: ...

    @abstractmethod
    async def add_refresh_token(
        self, *, token_id: UUID, session_id: UUID, token_hash: str, parent_id: UUID | None,
        now: datetime, expires_at: datetime,
    ) -> None: ...

    @abstractmethod
    async def find_refresh_token(self, token_hash: str, *, lock_family: bool = False) -> RefreshTokenRecord | None:
        """With ``lock_family`` the token and its session stay locked until the transaction ends: refreshes of one
        family run one after the other, each seeing what the one before committed."""

    @abstractmethod
    async def mark_refresh_token_used(self, token_id: UUID, now: datetime) -> None:
        """Records the first presentation (a later one keeps the first time)."""

    @abstractmethod
    async def discard_pending_children(self, session_id: UUID, parent_id: UUID) -> None:
        """Deletes the children of ``parent_id`` never presented: a family keeps one pending child per token."""

    @abstractmethod
    async def make_rotation_strict(self, session_id: UUID) -> None: ...

    @abstractmethod
    async def revoke_session(self, session_id: UUID, now: datetime, reason: str) -> None: ...

    @abstractmethod
    async def revoke_user_sessions(self, user_id: UUID, now: datetime, reason: str) -> None: ...

    @abstractmethod
    async def is_session_active(self, session_id: UUID, now: datetime) -> bool: ...

    @abstractmethod
    async def deny_access_token(self, jti: str, expires_at: datetime) -> None: ...

    @abstractmethod
    async def is_access_token_denied(self, jti: str) -> bool: ...


def seconds_left(count: int, limit: int, window_end: datetime, now: datetime) -> int:
    """What ``LoginThrottle.count_hit`` answers: 0 within the limit, else the whole seconds until the window ends."""
    if count <= limit:
        return 0
    return max(1, math.ceil((window_end - now).total_seconds()))


class LoginThrottle(Protocol):
    """Counters kept in the database so limits hold across replicas: login failures, password-reset requests,
    provider checks of a secret..."""

    @abstractmethod
    async def blocked_for(self, key: str, now: datetime) -> int:
        """Seconds the key is still blocked for (0 when not blocked)."""

    @abstractmethod
    async def record_failure(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> None: ...

    @abstractmethod
    async def count_hit(self, key: str, now: datetime, *, limit: int, window_seconds: int) -> int:
        """Count one event in the key's fixed window: 0 while the key stays within ``limit`` events per window,
        else the seconds until the window ends (a Retry-After)."""

    @abstractmethod
    async def clear(self, key: str) -> None: ...


class PasswordResetTokenRepository(Protocol):
    @abstractmethod
    async def add(self, *, token_id: UUID, user_id: UUID, token_hash: str, now: datetime,
                  expires_at: datetime) -> None:
        """Stores a token and invalidates the user's older unused tokens."""

    @abstractmethod
    async def owner_of_valid(self, token_hash: str, now: datetime) -> UUID | None:
        """The user id of an unused, unexpired token (None otherwise), without burning it; the token stays locked
        until the transaction ends, so a concurrent reset with it waits and then finds it used."""

    @abstractmethod
    async def consume(self, token_hash: str, now: datetime) -> UUID | None:
        """Atomically burn an unused, unexpired token; returns its user id or None."""


class PasswordHasher(Protocol):
    @abstractmethod
    async def hash(self, password: str) -> str:
        """Hash off the event loop."""

    @abstractmethod
    async def verify(self, password_hash: str, password: str) -> bool:
        """Constant-time verification off the event loop; False on any mismatch."""

    @abstractmethod
    async def dummy_hash(self) -> str:
        """A hash of an unguessable password, computed once per hasher (so once per process): verifying an
        unknown account's password against it costs one verification, like a wrong password."""


class AccessTokenService(Protocol):
    @abstractmethod
    def issue(self, *, user: User, session_id: UUID, now: datetime) -> IssuedAccessToken: ...

    @abstractmethod
    def decode(self, token: str) -> AccessClaims:
        """Raises InvalidToken (401) for anything but a valid, unexpired access token of ours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessFacts:
    """What the database says about a verified access token's user, session and id, read together."""

    user_found: bool
    organization_id: UUID | None
    role: Role | None
    is_active: bool
    session_active: bool
    denied: bool
    acting_organization_exists: bool


class AccessCheck(Protocol):
    """Reads the deny-list, the session and the user of an access token in one statement (a read of committed
    state, no transaction of its own): a logout, a revoked session, a deactivated user or a new role count on
    the very next request, on every replica."""

    @abstractmethod
    async def facts(self, *, user_id: UUID, session_id: UUID, jti: str, now: datetime,
                    acting_organization_id: UUID | None) -> AccessFacts: ...
