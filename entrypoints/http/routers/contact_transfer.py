"""/contacts/imports and /contacts/export: contacts in and out as CSV (registered before /contacts/{id})."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from application.authorization import Permission
from application.use_cases.contacts.export import ExportContacts
from application.use_cases.contacts.get_contact_import import GetContactImport
from application.use_cases.contacts.list_contact_imports import ListContactImports
from application.use_cases.contacts.retry_contact_import import RetryContactImport
from application.use_cases.contacts.start_contact_import import StartContactImport, StartImportCommand
from domain.contact_imports import MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, ImportFileTooLarge, InvalidMapping
from entrypoints.http.deps import CurrentActor, PageParams, set_total
from entrypoints.http.errors import error_responses, json_error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.contact_imports import ContactImportOut, ImportAcceptedOut
from entrypoints.http.uploads import json_object, read_upload

router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=DeprecationAwareRoute)

_LIMITS = (f"Limits: the file at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB ({MAX_IMPORT_BYTES:,} bytes; larger: "
           f"413 `import_file_too_large`) and {MAX_IMPORT_ROWS:,} data rows (more: 422 `too_many_rows` at upload, or "
           "the import fails with `too_many_rows`).")
_UPLOAD_BODY: dict[str, Any] = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"], "additionalProperties": False, "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "The CSV: UTF-8 (with or without BOM), a header row, `,` or `;` between fields, "
                                "`\"` quotes. " + _LIMITS},
        "mapping": {"type": "string", "maxLength": 16384,
                    "description": "JSON object from column header to target: `whatsapp_id` (required), `name`, "
                                   "`email`, `tags` (separated by `|` or `,`), `attributes` (a JSON object) or "
                                   "`attributes.<key>`; null ignores a column. Left out: the columns named like a "
                                   "target are used (an export imports as it is).",
                    "examples": ['{"Telefone": "whatsapp_id", "Nome": "name", "Cidade": "attributes.city"}']},
        "mode": {"type": "string", "enum": ["create_only", "upsert"], "default": "create_only",
                 "description": "`create_only` leaves existing contacts as they are (counted `unchanged`); "
                                "`upsert` gives them the file's non-empty values (attributes merged key by key)"},
        "delimiter": {"type": "string", "enum": [",", ";"],
                      "description": "Left out: sniffed from the header line"},
    }}}}}
_IMPORT_DOC = """The file is stored and the worker imports it in batches of 5,000 rows, one transaction each;
follow it with `GET /contacts/imports/{id}`. Numbers are normalized as on create; within the file the first valid
row of a number wins (later ones count as `duplicates`); invalid rows (bad number, bad email, name over 255
characters, bad tag...) are row errors, not a failed import. An empty cell never erases a value. """ + _LIMITS


@router.post("/imports", status_code=status.HTTP_202_ACCEPTED, response_model=ImportAcceptedOut,
             summary="Import contacts from a CSV file (agents and admins)", description=_IMPORT_DOC,
             openapi_extra={"requestBody": _UPLOAD_BODY}, responses=error_responses(401, 403, 413, 422))
@inject
async def import_contacts(request: Request, actor: CurrentActor, response: Response,
                          use_case: StartContactImport = Depends(Provide["start_contact_import"]),
                          ) -> ImportAcceptedOut:
    actor.require(Permission.WRITE_CONTACTS)  # before reading the body: a viewer's upload is refused unread
    upload = await read_upload(request, max_file_bytes=MAX_IMPORT_BYTES, too_large=ImportFileTooLarge,
                               fields=("mapping", "mode", "delimiter"))
    started = await use_case.execute(actor, StartImportCommand(
        content=upload.content, filename=upload.filename,
        mapping=json_object(upload.fields.get("mapping"), InvalidMapping),
        mode=upload.fields.get("mode", "create_only"), delimiter=upload.fields.get("delimiter")))
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{started.id}"
    return ImportAcceptedOut.model_validate({"import_id": started.id, "status": started.status.value})


@router.get("/imports", response_model=list[ContactImportOut], summary="List contact imports (newest first)",
            responses=error_responses(401, 403, 422))
@inject
async def list_imports(actor: CurrentActor, page: PageParams, response: Response,
                       use_case: ListContactImports = Depends(Provide["list_contact_imports"]),
                       ) -> list[ContactImportOut]:
    found, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [ContactImportOut.model_validate(i) for i in found]


@router.get("/imports/{import_id}", response_model=ContactImportOut,
            summary="A contact import's progress: status, counts and the first 100 row errors",
            responses=error_responses(401, 403, 404, 422))
@inject
async def get_import(actor: CurrentActor, import_id: UUID,
                     use_case: GetContactImport = Depends(Provide["get_contact_import"])) -> ContactImportOut:
    return ContactImportOut.model_validate(await use_case.execute(actor, import_id))


@router.post("/imports/{import_id}/retry", status_code=status.HTTP_202_ACCEPTED, response_model=ContactImportOut,
             summary="Run a failed import again: it resumes after its last committed batch",
             responses=error_responses(401, 403, 404, 409, 422))
@inject
async def retry_import(actor: CurrentActor, import_id: UUID,
                       use_case: RetryContactImport = Depends(Provide["retry_contact_import"])) -> ContactImportOut:
    return ContactImportOut.model_validate(await use_case.execute(actor, import_id))


class CsvStream(StreamingResponse):
    media_type = "text/csv"


_EXPORT_DOC = """Streams `text/csv` (UTF-8, CRLF): a header row `whatsapp_id,name,email,tags,attributes`, then
the contacts newest first, read in keyset pages of 2,000 (never all in memory). `tags` are joined with `|`,
`attributes` is a JSON object; a cell a spreadsheet would run as a formula gets a leading `'` (the import removes
it). The file imports again as it is. Any member may export (it is a read, like `GET /contacts`)."""


@router.get("/export", response_class=CsvStream, summary="Export contacts as CSV (any member)",
            description=_EXPORT_DOC,
            responses={200: {"description": "The contacts as CSV", "content": {"text/csv": {"schema": {
                "type": "string"}}}}, **json_error_responses(401, 403, 422)})
@inject
async def export_contacts(
    actor: CurrentActor,
    query: Annotated[str | None, Query(max_length=255, pattern=r"^[^\x00]*$",
                                       description="Substring of name, email or whatsapp_id")] = None,
    tag: Annotated[str | None, Query(max_length=50, pattern=r"^[^\x00]*$",
                                     description="Only contacts with this tag (case-insensitive)")] = None,
    use_case: ExportContacts = Depends(Provide["export_contacts"]),
) -> CsvStream:
    chunks = use_case.execute(actor, query=query, tag=tag)
    filename = f"contacts-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return CsvStream((chunk.encode("utf-8") async for chunk in chunks), media_type="text/csv; charset=utf-8",
                     headers={"Content-Disposition": f'attachment; filename="{filename}"',
                              "Cache-Control": "no-store"})
