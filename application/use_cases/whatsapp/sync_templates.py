"""Worker: sync a number's WABA message templates from Meta and store the whole list."""

from __future__ import annotations

from uuid import UUID

import structlog

from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.templates import RemoteTemplate, TemplateCatalog
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import GraphAuthError, GraphRejected

log = structlog.get_logger("pytake.templates")


MAX_PAGES = 200
"""A WABA has at most 6,000 templates (60 pages of 100): a cursor that never ends is a broken answer."""


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
