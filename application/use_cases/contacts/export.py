"""Export the organization's contacts as CSV, page by page, never all of them in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.csv_format import export_header, export_rows

EXPORT_PAGE = 2_000
"""Contacts read per query (each page in its own short transaction: a slow client holds no connection)."""


class ExportContacts:
    """Any member may export (it is a read, like ``GET /contacts``). The header comes first; then keyset pages,
    newest contact first, filtered like the contact search (``query``) and by ``tag`` (case-insensitive)."""

    def __init__(self, *, uow: UnitOfWorkFactory, page_size: int = EXPORT_PAGE) -> None:
        self._uow, self._page_size = uow, page_size

    def execute(self, actor: Actor, *, query: str | None = None, tag: str | None = None) -> AsyncIterator[str]:
        actor.require(Permission.READ)  # before the first byte: a refused export is an error answer, not a stream
        return self._stream(actor.organization_id, (query or "").strip() or None, (tag or "").strip() or None)

    async def _stream(self, organization_id: UUID, query: str | None, tag: str | None) -> AsyncIterator[str]:
        yield export_header()
        before: tuple[datetime, UUID] | None = None
        while True:
            async with self._uow(organization_id) as uow:
                page = await uow.contacts.page(query=query, tag=tag, before=before, limit=self._page_size)
            if page:
                yield export_rows(page)
            if len(page) < self._page_size:
                return
            before = (page[-1].created_at, page[-1].id)
