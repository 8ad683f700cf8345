"""Who may listen to an organization's live events: a single-use ticket for browsers (an EventSource cannot
send headers, and an access token never goes in a URL), the bearer token for other clients."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.events import EventTicket
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import hash_token

TICKET_TTL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: str
    expires_at: datetime


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
