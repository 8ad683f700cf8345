"""List the organization's automations."""

from __future__ import annotations

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from domain.automations import Automation


class ListAutomations:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[Automation], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.automations.list(limit=limit, offset=offset)
