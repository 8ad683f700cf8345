"""Operators (super_admin) read the queue's health and the dead letters."""

from __future__ import annotations

from application.authorization import Actor
from application.ports.operations import DeadLetter, OperationalStats, OperationsMonitor
from domain.errors import PermissionDenied
from domain.identity import Role


def _require_operator(actor: Actor) -> None:
    if actor.role is not Role.SUPER_ADMIN:
        raise PermissionDenied("Only a super_admin may read operational data.")


class ReadOperationalStats:
    """Unauthenticated use by the metrics endpoint (aggregates only, no tenant data)."""

    def __init__(self, *, monitor: OperationsMonitor) -> None:
        self._monitor = monitor

    async def execute(self) -> OperationalStats:
        return await self._monitor.stats()


class ListDeadLetters:
    def __init__(self, *, monitor: OperationsMonitor) -> None:
        self._monitor = monitor

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
        _require_operator(actor)
        return await self._monitor.dead_letters(limit=limit, offset=offset)
