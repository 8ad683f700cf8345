"""Request the sync of a number's WABA templates from Meta (a queued job)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.common import enqueue_template_sync
from domain.channel import WhatsAppNumberNotFound
from domain.templates import NumberHasNoWaba


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncQueued:
    number_id: UUID
    waba_id: str
    queued: bool
    """False when two syncs of this WABA were already in the queue (one of them will do)."""


class RequestTemplateSync:
    """``POST /whatsapp/numbers/{id}/templates/sync``: queue the sync; the worker calls Meta."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, number_id: UUID) -> SyncQueued:
        actor.require(Permission.MANAGE_FLOWS)
        async with self._uow(actor.organization_id) as uow:
            number = await uow.numbers.get(number_id)
            if number is None:
                raise WhatsAppNumberNotFound()
            if not number.waba_id:
                raise NumberHasNoWaba()
            queued = await enqueue_template_sync(uow, number)
            await uow.commit()
        return SyncQueued(number_id=number.id, waba_id=number.waba_id, queued=queued)
