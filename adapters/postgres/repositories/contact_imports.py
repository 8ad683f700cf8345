"""Contact imports and their uploaded files, scoped to one organization."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.tables import contact_import_files, contact_imports
from application.ports.contact_imports import ContactImportRepository
from domain.contact_imports import ContactImport, ImportMode, ImportStatus, RowError

_PROGRESS = ("status", "rows_total", "rows_processed", "created", "updated", "unchanged", "duplicates", "failed",
             "failure_code", "failure_reason", "updated_at", "started_at", "finished_at")


def _import(row: Any) -> ContactImport:
    return ContactImport(
        id=row.id, organization_id=row.organization_id, created_by=row.created_by, filename=row.filename,
        size_bytes=row.size_bytes, mode=ImportMode(row.mode), delimiter=row.delimiter, mapping=dict(row.mapping),
        status=ImportStatus(row.status), rows_total=row.rows_total, rows_processed=row.rows_processed,
        created=row.created, updated=row.updated, unchanged=row.unchanged, duplicates=row.duplicates,
        failed=row.failed, errors=[RowError(**e) for e in row.errors], failure_code=row.failure_code,
        failure_reason=row.failure_reason, created_at=row.created_at, updated_at=row.updated_at,
        started_at=row.started_at, finished_at=row.finished_at)


def _progress(found: ContactImport) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(found, name) for name in _PROGRESS}
    values["status"] = found.status.value
    values["errors"] = [e.as_dict() for e in found.errors]
    return values


class SqlAlchemyContactImportRepository(ContactImportRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    def _scoped(self) -> Any:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return contact_imports.c.organization_id == self._org

    async def add(self, contact_import: ContactImport, content: bytes) -> None:
        if contact_import.organization_id != self._org:
            raise RuntimeError("import belongs to another organization")
        await self._s.execute(insert(contact_imports).values(
            id=contact_import.id, organization_id=contact_import.organization_id,
            created_by=contact_import.created_by, filename=contact_import.filename,
            size_bytes=contact_import.size_bytes, mode=contact_import.mode.value, delimiter=contact_import.delimiter,
            mapping=contact_import.mapping, created_at=contact_import.created_at, **_progress(contact_import)))
        await self._s.execute(insert(contact_import_files).values(
            import_id=contact_import.id, organization_id=contact_import.organization_id, content=content))

    async def get(self, import_id: UUID, *, for_update: bool = False) -> ContactImport | None:
        statement = select(contact_imports).where(contact_imports.c.id == import_id, self._scoped())
        row = (await self._s.execute(statement.with_for_update() if for_update else statement)).first()
        return _import(row) if row else None

    async def content(self, import_id: UUID) -> bytes | None:
        self._scoped()
        value = (await self._s.execute(select(contact_import_files.c.content).where(
            contact_import_files.c.import_id == import_id,
            contact_import_files.c.organization_id == self._org))).scalar_one_or_none()
        return bytes(value) if value is not None else None

    async def drop_content(self, import_id: UUID) -> None:
        self._scoped()
        await self._s.execute(delete(contact_import_files).where(
            contact_import_files.c.import_id == import_id, contact_import_files.c.organization_id == self._org))

    async def update(self, contact_import: ContactImport) -> None:
        await self._s.execute(update(contact_imports).where(contact_imports.c.id == contact_import.id, self._scoped())
                              .values(**_progress(contact_import)))

    async def list(self, *, limit: int, offset: int) -> tuple[list[ContactImport], int]:
        rows = (await self._s.execute(select(contact_imports).where(self._scoped()).order_by(
            contact_imports.c.created_at.desc(), contact_imports.c.id.desc()).limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(contact_imports.c.id).where(self._scoped()),
                                          key=("contact_imports", self._org))
        return [_import(r) for r in rows], total
