"""List the stored copy of the organization's message templates."""

from __future__ import annotations

from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.templates import TemplateFilter
from application.ports.uow import UnitOfWorkFactory
from domain.channel import WhatsAppNumberNotFound
from domain.errors import InvalidValue
from domain.templates import KNOWN_STATUSES, MessageTemplate


class ListTemplates:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, number_id: UUID | None, status: str | None, query: str | None,
                      limit: int, offset: int) -> tuple[list[MessageTemplate], int]:
        actor.require(Permission.READ)
        if status is not None and status.upper() not in KNOWN_STATUSES:
            raise InvalidValue(f"status must be one of {', '.join(KNOWN_STATUSES)}.", field="status")
        async with self._uow(actor.organization_id) as uow:
            waba_ids: list[str] | None = None
            if number_id is not None:
                number = await uow.numbers.get(number_id)
                if number is None:
                    raise WhatsAppNumberNotFound()
                waba_ids = [number.waba_id] if number.waba_id else []
            return await uow.templates.list(TemplateFilter(waba_ids=waba_ids, status=status,
                                                           query=(query or "").strip() or None),
                                            limit=limit, offset=offset)
