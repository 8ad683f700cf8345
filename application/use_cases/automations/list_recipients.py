"""List an automation's recipients, optionally by state."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.automations.common import _load
from domain.automations import Recipient, RecipientState


class ListRecipients:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, automation_id: UUID, *, state: RecipientState | None, limit: int,
                      offset: int) -> tuple[list[Recipient], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            await _load(uow, automation_id)
            return await uow.automations.list_recipients(automation_id, state=state, limit=limit, offset=offset)
