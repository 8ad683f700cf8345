"""Who may listen to an organization's live events: a single-use ticket for browsers (an EventSource cannot
send headers, and an access token never goes in a URL), the bearer token for other clients."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.events import EventTicket
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import hash_token
from domain.events import InvalidEventTicket

TICKET_TTL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Listener:
    """Who opened a stream: its events are those of ``organization_id`` only."""

    organization_id: UUID
    user_id: UUID


class IssueEventTicket:
    """Any role may listen to its own organization's events."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, ttl: timedelta = TICKET_TTL) -> None:
        self._uow, self._clock, self._ttl = uow, clock, ttl

    async def execute(self, actor: Actor) -> IssuedTicket:
        actor.require(Permission.READ)
        now, ticket = self._clock.now(), secrets.token_urlsafe(32)
        async with self._uow(actor.organization_id) as uow:
            await uow.event_tickets.add(EventTicket(
                token_hash=hash_token(ticket), organization_id=actor.organization_id, user_id=actor.user_id,
                created_at=now, expires_at=now + self._ttl))
            await uow.commit()
        return IssuedTicket(ticket=ticket, expires_at=now + self._ttl)


class RedeemEventTicket:
    """Spends a ticket (once, across replicas: the row is deleted by whoever redeems it first)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, ticket: str) -> Listener:
        if not ticket or len(ticket) > 200:
            raise InvalidEventTicket()
        async with self._uow() as uow:
            found = await uow.event_tickets.consume(hash_token(ticket), self._clock.now())
            await uow.commit()
        if found is None:
            raise InvalidEventTicket()
        return Listener(organization_id=found.organization_id, user_id=found.user_id)


def listener_of(actor: Actor) -> Listener:
    actor.require(Permission.READ)
    return Listener(organization_id=actor.organization_id, user_id=actor.user_id)
