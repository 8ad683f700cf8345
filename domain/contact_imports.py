"""Contact imports: a CSV file turned into contacts by the worker, batch by batch, with its progress."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.errors import Conflict, InvalidValue, NotFound, TooLarge

MAX_IMPORT_BYTES = 20 * 1024 * 1024
"""20 MiB: larger files are refused (HTTP 413)."""
MAX_IMPORT_ROWS = 500_000
"""Data rows (the header and blank lines not counted) one import may hold."""
MAX_ROW_ERRORS = 100
"""Row errors kept with their line and reason; every failed row is counted."""


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class ImportMode(StrEnum):
    CREATE_ONLY = "create_only"  # existing contacts are left as they are (counted unchanged)
    UPSERT = "upsert"  # existing contacts get the file's non-empty values


class ImportFileTooLarge(TooLarge):
    code = "import_file_too_large"
    default_message = f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB."


class InvalidImportFile(InvalidValue):
    field = "file"
    code = "invalid_csv"
    default_message = "The file is not a CSV file this import can read."


class TooManyRows(InvalidValue):
    field = "file"
    code = "too_many_rows"
    default_message = f"The file has more than {MAX_IMPORT_ROWS:,} rows."


class InvalidMapping(InvalidValue):
    field = "mapping"
    code = "invalid_mapping"
    default_message = "The column mapping is not valid."


class ContactImportNotFound(NotFound):
    code = "contact_import_not_found"
    default_message = "Contact import not found."


class ImportNotRetryable(Conflict):
    code = "import_not_failed"
    default_message = "Only a failed import can be run again."


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRow:
    """One valid row, normalized. ``None`` (and no attribute key) means the file gave no value: a new contact
    has none, an existing one keeps its own."""

    whatsapp_id: str
    name: str | None = None
    email: str | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    line: int  # the line of the file the row starts on (the header is line 1)
    column: str | None  # the header of the offending column, when one is to blame
    error_code: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "error_code": self.error_code, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchCounts:
    """What the contact store did with a batch of distinct, valid rows."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(slots=True, kw_only=True)
class ContactImport:
    id: UUID
    organization_id: UUID
    created_by: UUID | None
    filename: str
    size_bytes: int
    mode: ImportMode
    delimiter: str
    mapping: dict[str, str]  # column header -> target (whatsapp_id, name, email, tags, attributes[.key])
    status: ImportStatus = ImportStatus.QUEUED
    rows_total: int | None = None
    rows_processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    failure_code: str | None = None
    failure_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.COMPLETED, ImportStatus.FAILED)

    def start(self, rows_total: int, now: datetime) -> None:
        self.status, self.rows_total, self.updated_at = ImportStatus.RUNNING, rows_total, now
        self.started_at = self.started_at or now

    def record_batch(self, *, rows: int, counts: BatchCounts, duplicates: int, errors: list[RowError],
                     now: datetime) -> None:
        """A committed batch of ``rows`` file rows: its counts join the totals and the cursor moves past it."""
        self.rows_processed += rows
        self.created += counts.created
        self.updated += counts.updated
        self.unchanged += counts.unchanged
        self.duplicates += duplicates
        self.failed += len(errors)
        self.errors.extend(errors[:max(0, MAX_ROW_ERRORS - len(self.errors))])
        self.updated_at = now

    def complete(self, now: datetime) -> None:
        self.status, self.finished_at, self.updated_at = ImportStatus.COMPLETED, now, now
        self.failure_code = self.failure_reason = None

    def fail(self, code: str, reason: str, now: datetime) -> None:
        self.status, self.finished_at, self.updated_at = ImportStatus.FAILED, now, now
        self.failure_code, self.failure_reason = code, reason

    def requeue(self, now: datetime) -> None:
        """A failed import runs again from the row after its last committed batch."""
        if self.status is not ImportStatus.FAILED:
            raise ImportNotRetryable()
        self.status, self.finished_at, self.updated_at = ImportStatus.QUEUED, None, now
        self.failure_code = self.failure_reason = None
