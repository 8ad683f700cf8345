"""Upload a contact CSV for import."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from uuid import uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.contacts.common import enqueue_import
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
