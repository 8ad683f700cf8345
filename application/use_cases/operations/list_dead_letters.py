"""Operators (super_admin) read the dead letters."""

from __future__ import annotations

from application.authorization import Actor
from application.ports.operations import DeadLetter, OperationsMonitor
from application.use_cases.operations.common import _require_operator


class ListDeadLetters:
    def __init__(self, *, monitor: OperationsMonitor) -> None:
        self._monitor = monitor

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]:
        _require_operator(actor)
        return await self._monitor.dead_letters(limit=limit, offset=offset)
