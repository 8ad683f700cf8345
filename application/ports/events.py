"""Ports of live events: the event log written with each change, and the stream tickets."""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from domain.events import EventType


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    organization_id: UUID
    type: str
    payload: Mapping[str, Any]


class EventLog(Protocol):
    """The organization's event log, bound to the unit of work's transaction.

    ``append`` only buffers: the unit of work writes what was appended in one statement when it commits (so
    a batch of a thousand inbound messages costs one INSERT), and the events exist if and only if the change
    they tell of commits. Ids increase in commit order within an organization.
    """

    @abstractmethod
    def append(self, type: EventType, payload: Mapping[str, Any], *, organization_id: UUID | None = None) -> None:
        """Buffer one event of ``organization_id`` (default: the unit of work's organization). ``payload`` is
        small JSON (ids, status, type, a short preview): never a secret."""

    @abstractmethod
    async def flush(self) -> None:
        """Write the buffered events (the unit of work calls it right before committing)."""

    @abstractmethod
    async def after(self, organization_id: UUID, after_id: int, limit: int) -> list[StoredEvent]:
        """The organization's events with an id above ``after_id``, oldest first."""

    @abstractmethod
    async def after_many(self, cursors: Mapping[UUID, int], limit: int) -> list[StoredEvent]:
        """For each organization, its events above its cursor, oldest first (one statement; system scope)."""

    @abstractmethod
    async def latest_id(self, organization_id: UUID) -> int:
        """The organization's newest event id (0 when none)."""

    @abstractmethod
    async def purged_through(self, organization_id: UUID) -> int:
        """The highest event id of the organization the retention purge deleted (0 when none)."""

    @abstractmethod
    async def purge(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the oldest events created before ``before`` (system scope), remembering
        per organization the highest id deleted; returns how many were deleted."""


@dataclass(frozen=True, slots=True)
class EventTicket:
    token_hash: str
    organization_id: UUID
    user_id: UUID
    created_at: datetime
    expires_at: datetime


class EventTicketRepository(Protocol):
    @abstractmethod
    async def add(self, ticket: EventTicket) -> None: ...

    @abstractmethod
    async def consume(self, token_hash: str, now: datetime) -> EventTicket | None:
        """Delete and return the ticket when it is still valid (system scope); None when unknown, used or
        expired. Single use across replicas: two concurrent consumers never both get it."""

    @abstractmethod
    async def delete_expired(self, now: datetime) -> int: ...


class EventNotifications(Protocol):
    """Wake-ups of new events (PostgreSQL LISTEN/NOTIFY): one listening connection per process."""

    @abstractmethod
    async def listen(self, on_event: Callable[[UUID, int], None], on_connected: Callable[[], None],
                     stop: asyncio.Event) -> None:
        """Until ``stop``: call ``on_event(organization_id, highest id)`` for each notification, and
        ``on_connected()`` each time the listening connection is (re)established (notifications sent while
        nobody listened are lost: the caller then looks for new events on its own)."""
