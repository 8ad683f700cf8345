"""Contact import schemas (the upload itself is multipart/form-data, documented on its route)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from entrypoints.http.schemas.common import ResponseModel

ImportStatusName = Literal["queued", "running", "completed", "failed"]
ImportModeName = Literal["create_only", "upsert"]


class ImportAcceptedOut(ResponseModel):
    import_id: UUID
    status: ImportStatusName = "queued"


class RowErrorOut(ResponseModel):
    line: int = Field(description="Line of the file the row starts on (the header is line 1)")
    column: str | None = Field(description="Header of the column at fault, when one is")
    error_code: str = Field(description="invalid_whatsapp_id, missing_whatsapp_id, invalid_email, name_too_long, "
                                        "invalid_tag, invalid_attributes, invalid_character, too_many_fields or "
                                        "malformed_row")
    reason: str


class ContactImportOut(ResponseModel):
    id: UUID
    status: ImportStatusName
    mode: ImportModeName
    filename: str
    size_bytes: int
    delimiter: Literal[",", ";"]
    mapping: dict[str, str] = Field(description="Column header -> target, as resolved at upload")
    rows_total: int | None = Field(description="Data rows in the file; null until the worker has counted them")
    rows_processed: int = Field(description="Rows done so far: created + updated + unchanged + duplicates + failed")
    created: int
    updated: int
    unchanged: int = Field(description="Rows whose contact already existed and was left as it was")
    duplicates: int = Field(description="Rows repeating a number an earlier valid row of the file had (first wins)")
    failed: int = Field(description="Invalid rows (all of them; `errors` lists the first 100)")
    errors: list[RowErrorOut]
    failure_code: str | None = Field(default=None, description="Why a failed import failed (too_many_rows, "
                                                                "invalid_csv, import_interrupted)")
    failure_reason: str | None = None
    organization_id: UUID
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
