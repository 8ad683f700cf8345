"""Access facts remembered per API process for a moment, forgotten on every replica the moment they change.

``pytake_access`` (one statement) answers, for each authenticated request, whether the token's session is
active, the token not denied, the user active and in which role. Its answer changes only when a session is
revoked, a token denied, a user changed or deleted, an organization deleted: each of those statements sends
``NOTIFY pytake_auth`` when it commits (migration ``0019_auth_notify``). :class:`CachedAccessCheck` keeps the
answers for ``AUTH_CACHE_SECONDS`` (2 s) and drops them all when a notification arrives, on its own LISTEN
connection. While that connection is down it remembers nothing (every request reads the database, as before),
and it drops everything when it connects again (a notification may have been missed meanwhile).

A read that was in flight when a notification arrived is not remembered (a generation counter), so an answer
read before a logout committed can never outlive the logout's notification. The time limit bounds what no
notification announces: a session reaching its ``expires_at``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import structlog

from adapters.postgres.listening import listen_on
from application.ports.identity import AccessCheck, AccessFacts

log = structlog.get_logger("pytake.auth")

AUTH_CHANNEL = "pytake_auth"
MAX_ENTRIES = 10_000

_Key = tuple[UUID, UUID, str, UUID | None]


class CachedAccessCheck(AccessCheck):
    def __init__(self, inner: AccessCheck, dsn: str, *, seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner, self._dsn, self._seconds, self._clock = inner, dsn, seconds, clock
        self._entries: dict[_Key, tuple[float, AccessFacts]] = {}
        self._generation = 0
        self.listening = False

    async def facts(self, *, user_id: UUID, session_id: UUID, jti: str, now: datetime,
                    acting_organization_id: UUID | None) -> AccessFacts:
        if not self.listening or self._seconds <= 0:
            return await self._inner.facts(user_id=user_id, session_id=session_id, jti=jti, now=now,
                                           acting_organization_id=acting_organization_id)
        key = (user_id, session_id, jti, acting_organization_id)
        known = self._entries.get(key)
        if known is not None and known[0] > self._clock():
            return known[1]
        generation = self._generation
        facts = await self._inner.facts(user_id=user_id, session_id=session_id, jti=jti, now=now,
                                        acting_organization_id=acting_organization_id)
        if self.listening and generation == self._generation:  # nothing changed while it was read
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (self._clock() + self._seconds, facts)
        return facts

    def forget(self) -> None:
        """Drop every remembered answer, and any answer being read right now."""
        self._generation += 1
        self._entries.clear()

    def _connected(self) -> None:
        self.forget()  # whatever changed while nobody listened
        self.listening = True

    def _lost(self) -> None:
        if self.listening:
            log.info("auth_cache.listener_lost")
        self.listening = False
        self.forget()

    async def run(self, stop: asyncio.Event) -> None:
        """LISTEN ``pytake_auth`` until ``stop``, reconnecting when the connection drops."""
        if self._seconds > 0:
            await listen_on(self._dsn, AUTH_CHANNEL, lambda _payload: self.forget(), stop,
                            on_connected=self._connected, on_lost=self._lost)
