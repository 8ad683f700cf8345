"""Access tokens with real PyJWT: a token is verified once per process and then only its expiry is checked
again; a changed byte, another key, an expired token are still refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from adapters.security import jwt_tokens
from adapters.security.jwt_tokens import JwtAccessTokenService
from application.errors import InvalidToken
from domain.identity import Role, User

pytestmark = pytest.mark.integration

SECRET = "a-signing-secret-of-at-least-32-bytes!!"


def user() -> User:
    now = datetime.now(UTC)
    return User(id=uuid4(), organization_id=uuid4(), email="ana@example.com", name="Ana", password_hash="x",
                role=Role.AGENT, is_active=True, created_at=now, updated_at=now)


def test_a_verified_token_decodes_the_same_again_and_tampering_is_still_refused() -> None:
    service = JwtAccessTokenService(secret=SECRET)
    owner, session = user(), uuid4()
    token = service.issue(user=owner, session_id=session, now=datetime.now(UTC)).token
    first = service.decode(token)
    assert service.decode(token) == first
    assert (first.user_id, first.session_id, first.role) == (owner.id, session, Role.AGENT)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{header}.{payload}.{flipped}", token + "x", f"{header}.{payload}."):
        with pytest.raises(InvalidToken):
            service.decode(forged)
    with pytest.raises(InvalidToken):  # another process with another key verifies for itself
        JwtAccessTokenService(secret=SECRET + "?").decode(token)


def test_a_remembered_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = JwtAccessTokenService(secret=SECRET, ttl=timedelta(minutes=15), leeway_seconds=10)
    issued = service.issue(user=user(), session_id=uuid4(), now=datetime.now(UTC))
    service.decode(issued.token)
    later = issued.expires_at.timestamp() + 11
    monkeypatch.setattr(jwt_tokens.time, "time", lambda: later)
    with pytest.raises(InvalidToken):
        service.decode(issued.token)
    monkeypatch.setattr(jwt_tokens.time, "time", time.time)
    with pytest.raises(InvalidToken):  # forgotten, then verified again by PyJWT at the real clock: still valid
        service.decode(issued.token[:-1] + "=")
    assert service.decode(issued.token).jti == issued.jti


def test_the_remembered_tokens_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jwt_tokens, "VERIFIED_CACHE_SIZE", 3)
    service = JwtAccessTokenService(secret=SECRET)
    tokens = [service.issue(user=user(), session_id=uuid4(), now=datetime.now(UTC)).token for _ in range(5)]
    for token in tokens:
        service.decode(token)
    assert list(service._verified) == tokens[2:]
