"""HS256 access tokens with a pinned algorithm, issuer, audience and required claims (PyJWT)."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from application.errors import InvalidToken
from application.ports.identity import AccessClaims, AccessTokenService, IssuedAccessToken
from domain.identity import Role, User

ALGORITHM = "HS256"
VERIFIED_CACHE_SIZE = 10_000
"""Verified tokens remembered per process (about 1 KB each); past it the oldest is verified again on its next use."""
_REQUIRED = ["exp", "iat", "nbf", "sub", "jti", "iss", "aud", "org", "role", "sid", "type"]


class JwtAccessTokenService(AccessTokenService):
    def __init__(self, *, secret: str, issuer: str = "pytake", audience: str = "pytake-api",
                 ttl: timedelta = timedelta(minutes=15), leeway_seconds: int = 10) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("JWT secret must be at least 32 bytes")
        self._secret, self._issuer, self._audience = secret, issuer, audience
        self._ttl, self._leeway = ttl, leeway_seconds
        self._verified: dict[str, tuple[AccessClaims, float]] = {}

    def issue(self, *, user: User, session_id: UUID, now: datetime) -> IssuedAccessToken:
        expires_at = now + self._ttl
        jti = secrets.token_urlsafe(16)
        claims = {
            "sub": str(user.id), "org": str(user.organization_id), "role": user.role.value,
            "sid": str(session_id), "jti": jti, "type": "access", "iss": self._issuer, "aud": self._audience,
            "iat": int(now.timestamp()), "nbf": int(now.timestamp()), "exp": int(expires_at.timestamp()),
        }
        token = jwt.encode(claims, self._secret, algorithm=ALGORITHM)
        return IssuedAccessToken(token=token, jti=jti, expires_at=expires_at)

    def decode(self, token: str) -> AccessClaims:
        """The token's claims, its signature and claims checked once per token string: a token already
        verified is only checked for expiry again (PyJWT's checks cost more CPU than the rest of a cached read).
        Revocation is not decided here: the session, deny-list and user are read on every request."""
        known = self._verified.get(token)
        if known is not None:
            if time.time() > known[1]:
                del self._verified[token]
                raise InvalidToken()
            return known[0]
        claims = self._decode(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:  # the oldest entry out (dicts keep insertion order)
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (claims, claims.expires_at.timestamp() + self._leeway)
        return claims

    def _decode(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=self._audience,
                                issuer=self._issuer, leeway=self._leeway, options={"require": _REQUIRED})
            if claims.get("type") != "access":
                raise InvalidToken()
            return AccessClaims(
                user_id=UUID(claims["sub"]), organization_id=UUID(claims["org"]), role=Role(claims["role"]),
                session_id=UUID(claims["sid"]), jti=str(claims["jti"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC))
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            raise InvalidToken() from None
