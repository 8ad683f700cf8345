"""Message templates: sync a number's WABA templates from Meta (a queued job), list the stored copy."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import structlog

from application.authorization import Actor, Permission
from application.jobs import SyncTemplates as SyncTemplatesJob
from application.jobs import enqueue
from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.templates import RemoteTemplate, TemplateCatalog, TemplateFilter
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import GraphAuthError, GraphRejected
from domain.channel import WhatsAppNumber, WhatsAppNumberNotFound
from domain.errors import InvalidValue
from domain.templates import KNOWN_STATUSES, MessageTemplate, NumberHasNoWaba

log = structlog.get_logger("pytake.templates")

MAX_PAGES = 200
"""A WABA has at most 6,000 templates (60 pages of 100): a cursor that never ends is a broken answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncQueued:
    number_id: UUID
    waba_id: str
    queued: bool
    """False when two syncs of this WABA were already in the queue (one of them will do)."""


async def enqueue_template_sync(uow: UnitOfWork, number: WhatsAppNumber) -> bool:
    """Queue the sync of the number's WABA; False when the number has no WABA id or both slots are taken.

    Two slots per organization and WABA: a dedupe key holds while its job is queued *or running*, and a sync
    already running may have read Meta before the change the caller wants to see, so a request finding the first
    slot taken takes the second. At most two syncs of a WABA are in the queue, and (unless both are running) one
    of them starts after the request."""
    if not number.waba_id:
        return False
    job = SyncTemplatesJob(organization_id=number.organization_id, number_id=number.id)
    key = f"templates:{number.organization_id}:{number.waba_id}"
    return await enqueue(uow, job, dedupe_key=key) or await enqueue(uow, job, dedupe_key=f"{key}:again")


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


class SyncTemplates:
    """Worker: page through ``GET /{waba_id}/message_templates`` with the number's token, then store the whole list
    in one transaction (templates Meta no longer lists become DELETED). Running it twice changes nothing."""

    def __init__(self, *, uow: UnitOfWorkFactory, catalog: TemplateCatalog, secrets: SecretResolver,
                 clock: Clock) -> None:
        self._uow, self._catalog, self._secrets, self._clock = uow, catalog, secrets, clock

    async def execute(self, organization_id: UUID, number_id: UUID) -> int:
        """Returns how many templates Meta listed (0 when the number is gone or has no WABA id)."""
        async with self._uow(organization_id) as uow:
            number = await uow.numbers.get(number_id)
        if number is None or not number.waba_id:
            return 0
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        read_from = self._clock.now()  # synced_at: a template webhook older than this is already in what we read
        templates: list[RemoteTemplate] = []
        after: str | None = None
        try:
            for _ in range(MAX_PAGES):
                page = await self._catalog.templates_page(number.waba_id, token, after)
                templates.extend(page.templates)
                if page.after is None:
                    break
                if page.after == after:  # storing a partial list would mark the rest DELETED
                    raise GraphRejected(f"The template list of WABA {number.waba_id} repeated its cursor.")
                after = page.after
            else:
                raise GraphRejected(f"The template list of WABA {number.waba_id} did not end after "
                                    f"{MAX_PAGES} pages.")
        except GraphAuthError:
            await self._secrets.report_failure(organization_id, number.access_token_secret_id)
            raise
        async with self._uow(organization_id) as uow:
            deleted = await uow.templates.replace_for_waba(number.waba_id, templates, read_from)
            await uow.commit()
        log.info("templates.synced", organization_id=str(organization_id), waba_id=number.waba_id,
                 templates=len(templates), marked_deleted=deleted)
        return len(templates)


class EnqueueTemplateSyncs:
    """The worker's periodic schedule: queue one sync per organization and WABA of every active number."""

    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self) -> int:
        async with self._uow() as uow:
            numbers = await uow.numbers.syncable_any_org()
            queued = 0
            for number in numbers:
                queued += await enqueue_template_sync(uow, number)
            await uow.commit()
        return queued


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
