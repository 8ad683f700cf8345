"""Upload a contact CSV for import, follow its progress, run a failed one again."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.jobs import ImportContacts, enqueue
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.contacts.csv_format import (
    check_delimiter,
    count_rows,
    decode,
    most_rows,
    read_header,
    records,
)
from application.use_cases.contacts.csv_mapping import resolve_layout
from domain.contact_imports import (
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    ContactImport,
    ContactImportNotFound,
    ImportFileTooLarge,
    ImportMode,
    InvalidImportFile,
    TooManyRows,
)
from domain.errors import InvalidValue

MAX_FILENAME = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class StartImportCommand:
    content: bytes
    filename: str | None = None
    mapping: dict[str, str | None] | None = None  # column header -> target; None: columns named like targets
    mode: str = ImportMode.CREATE_ONLY.value
    delimiter: str | None = None  # ',' or ';'; None: sniffed from the header line


def _mode(value: str) -> ImportMode:
    try:
        return ImportMode(value)
    except ValueError:
        raise InvalidValue("mode must be create_only or upsert.", field="mode") from None


def _filename(value: str | None) -> str:
    cleaned = "".join(c for c in (value or "") if c.isprintable()).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return cleaned[:MAX_FILENAME] or "contacts.csv"


async def enqueue_import(uow: UnitOfWork, contact_import: ContactImport) -> None:
    await enqueue(uow, ImportContacts(organization_id=contact_import.organization_id, import_id=contact_import.id),
                  dedupe_key=f"import:{contact_import.id}")


class StartContactImport:
    """Checks what is cheap to check (size, encoding, header, mapping, row count), stores the file and queues the
    import; the worker does the rest."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, max_bytes: int = MAX_IMPORT_BYTES,
                 max_rows: int = MAX_IMPORT_ROWS) -> None:
        self._uow, self._clock, self._max_bytes, self._max_rows = uow, clock, max_bytes, max_rows

    async def execute(self, actor: Actor, cmd: StartImportCommand) -> ContactImport:
        actor.require(Permission.WRITE_CONTACTS)
        if len(cmd.content) > self._max_bytes:
            raise ImportFileTooLarge()
        mode = _mode(cmd.mode)
        text = decode(cmd.content)
        delimiter = check_delimiter(cmd.delimiter, text)
        layout = resolve_layout(read_header(text, delimiter), cmd.mapping)
        if next(islice(records(text, delimiter), 1, None), None) is None:
            raise InvalidImportFile("The file has a header row but no data rows.")
        if most_rows(text) > self._max_rows and count_rows(text, delimiter) > self._max_rows:
            raise TooManyRows(f"The file has more than {self._max_rows:,} rows.")
        now = self._clock.now()
        contact_import = ContactImport(
            id=uuid4(), organization_id=actor.organization_id, created_by=actor.user_id,
            filename=_filename(cmd.filename), size_bytes=len(cmd.content), mode=mode, delimiter=delimiter,
            mapping=layout.mapping, created_at=now, updated_at=now)
        async with self._uow(actor.organization_id) as uow:
            await uow.contact_imports.add(contact_import, cmd.content)
            await enqueue_import(uow, contact_import)
            await uow.commit()
        return contact_import


class GetContactImport:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, import_id: UUID) -> ContactImport:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            found = await uow.contact_imports.get(import_id)
        if found is None:
            raise ContactImportNotFound()
        return found


class ListContactImports:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[ContactImport], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.contact_imports.list(limit=limit, offset=offset)


class RetryContactImport:
    """A failed import is queued again; it resumes after its last committed batch (409 unless it failed)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, import_id: UUID) -> ContactImport:
        actor.require(Permission.WRITE_CONTACTS)
        async with self._uow(actor.organization_id) as uow:
            found = await uow.contact_imports.get(import_id, for_update=True)
            if found is None:
                raise ContactImportNotFound()
            found.requeue(self._clock.now())
            await uow.contact_imports.update(found)
            await enqueue_import(uow, found)
            await uow.commit()
        return found
