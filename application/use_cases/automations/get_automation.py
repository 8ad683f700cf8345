"""Read one automation of the organization."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.automations.common import _load
from domain.automations import Automation


class GetAutomation:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, automation_id: UUID) -> Automation:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await _load(uow, automation_id)
