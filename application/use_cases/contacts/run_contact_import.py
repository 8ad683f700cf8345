"""Worker: run a contact import in batches, one transaction each, resumable after any failure.

A batch's contacts, its counts, its row errors and the import's cursor (``rows_processed``) are committed
together, under a lock on the import row. So a batch is either wholly done and counted or not at all, and a
retried job (or a second worker that picked it up) parses the file again from the start, which is
deterministic, and writes only the rows after the last committed batch: nothing is written or counted twice."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from uuid import UUID

import structlog

from application.ports.common import Clock
from application.ports.contacts import ContactRepository
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.csv_format import count_rows, decode, read_header
from application.use_cases.contacts.csv_mapping import resolve_layout
from application.use_cases.contacts.csv_rows import ParsedRow, parse_rows
from domain.contact_imports import (
    MAX_IMPORT_ROWS,
    BatchCounts,
    ContactImport,
    ImportStatus,
    InvalidImportFile,
    TooManyRows,
)
from domain.errors import InvalidValue

log = structlog.get_logger("pytake.contacts")


BATCH_ROWS = 5_000
"""File rows per transaction."""


class RunContactImport:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, batch_rows: int = BATCH_ROWS,
                 max_rows: int = MAX_IMPORT_ROWS) -> None:
        self._uow, self._clock, self._batch_rows, self._max_rows = uow, clock, batch_rows, max_rows

    async def execute(self, organization_id: UUID, import_id: UUID) -> None:
        prepared = await self._prepare(organization_id, import_id)
        if prepared is None:
            return
        rows, resume_at = prepared
        position = await self._skip(rows, resume_at)
        while position >= 0:
            position = await self._batch(organization_id, import_id, rows, position)
        log.info("contact_import.stopped", import_id=str(import_id))

    async def _skip(self, rows: Iterator[ParsedRow], count: int) -> int:
        """A resumed import parses past the rows its committed batches hold (they still count for the
        de-duplication), a batch at a time so that the worker's other jobs get their turn."""
        position = 0
        while position < count:
            skipped = sum(1 for _ in islice(rows, min(self._batch_rows, count - position)))
            if not skipped:
                break
            position += skipped
            await asyncio.sleep(0)
        return position

    async def _prepare(self, organization_id: UUID, import_id: UUID) -> tuple[Iterator[ParsedRow], int] | None:
        """The parsed rows of a queued or running import (a queued one is counted and marked running first) and
        where its committed batches end; None when there is nothing to do, or the file cannot be imported (the
        import is then failed with the reason)."""
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            found = await uow.contact_imports.get(import_id, for_update=True)
            if found is None or found.finished:
                return None
            content = await uow.contact_imports.content(import_id)
            try:
                if content is None:
                    raise InvalidImportFile("The uploaded file is no longer stored; upload it again.")
                text = decode(content)
                layout = resolve_layout(read_header(text, found.delimiter), found.mapping)
                if found.status is ImportStatus.QUEUED:
                    total = count_rows(text, found.delimiter)
                    if total > self._max_rows:
                        raise TooManyRows(f"The file has {total:,} rows; an import takes at most {self._max_rows:,}.")
                    found.start(total, now)
            except InvalidValue as error:
                found.fail(error.code, error.message, now)
                await uow.contact_imports.update(found)
                await uow.commit()
                log.info("contact_import.failed", import_id=str(import_id), error_code=error.code)
                return None
            await uow.contact_imports.update(found)
            await uow.commit()
        return parse_rows(text, found.delimiter, layout), found.rows_processed

    async def _batch(self, organization_id: UUID, import_id: UUID, rows: Iterator[ParsedRow], position: int) -> int:
        """Commit the next batch; returns the new position, or -1 when the import is over (or not ours to run)."""
        now = self._clock.now()
        async with self._uow(organization_id) as uow:
            found = await uow.contact_imports.get(import_id, for_update=True)
            if found is None or found.status is not ImportStatus.RUNNING:
                return -1
            if found.rows_processed < position:
                raise RuntimeError("the import's cursor went backwards")
            for _ in islice(rows, found.rows_processed - position):  # batches another run committed meanwhile
                pass
            position = found.rows_processed
            batch = list(islice(rows, self._batch_rows))
            if batch:
                await self._write(uow.contacts, found, batch, now)
            if not batch or found.rows_processed >= (found.rows_total or 0):
                found.complete(now)
                await uow.contact_imports.drop_content(import_id)
            await uow.contact_imports.update(found)
            await uow.commit()
        return -1 if found.finished else position + len(batch)

    @staticmethod
    async def _write(contacts: ContactRepository, found: ContactImport, batch: list[ParsedRow],
                     now: datetime) -> None:
        valid = [p.row for p in batch if p.row is not None and not p.duplicate]
        counts = await contacts.import_rows(valid, mode=found.mode, now=now) if valid else BatchCounts()
        found.record_batch(rows=len(batch), counts=counts, duplicates=sum(1 for p in batch if p.duplicate),
                           errors=[p.error for p in batch if p.error is not None], now=now)
