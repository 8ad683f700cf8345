"""Spend a single-use ticket for an organization's live events."""

from __future__ import annotations

from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.auth.common import hash_token
from application.use_cases.events.common import Listener
from domain.events import InvalidEventTicket


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
