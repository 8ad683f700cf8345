"""Reading a multipart/form-data upload with a size limit enforced while the body streams in.

The route reads the form itself (no FastAPI form parameters), so authentication and the role check run before a
single byte of the body is read, a declared ``Content-Length`` over the limit is refused at once, and a body that
grows past it is cut off mid-stream (413) instead of being spooled to disk first."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from domain.errors import DomainError, InvalidValue

FORM_SLACK_BYTES = 256 * 1024
"""Room for the form's other fields and the multipart framing around the file."""
FIELD_MAX_BYTES = 64 * 1024


class InvalidUpload(InvalidValue):
    code = "invalid_upload"
    default_message = "Send the file as multipart/form-data with the CSV in the 'file' field."


@dataclass(frozen=True, slots=True)
class Upload:
    content: bytes
    filename: str | None
    fields: dict[str, str]
    content_type: str | None = None


async def _limited(request: Request, limit: int, too_large: type[DomainError]) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise too_large()
        yield chunk


async def read_upload(request: Request, *, max_file_bytes: int, too_large: type[DomainError],
                      fields: tuple[str, ...]) -> Upload:
    """The ``file`` part (at most ``max_file_bytes``, else ``too_large``) and the text ``fields`` sent (others are
    refused)."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise InvalidUpload(field="body")
    limit = max_file_bytes + FORM_SLACK_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large()
    parser = MultiPartParser(request.headers, _limited(request, limit, too_large), max_files=1,
                             max_fields=len(fields), max_part_size=FIELD_MAX_BYTES)
    try:
        form = await parser.parse()
    except MultiPartException as error:
        raise InvalidUpload(f"The multipart body cannot be read: {error.message}", field="body") from None
    try:
        unknown = sorted(set(form.keys()) - {"file", *fields})
        if unknown:
            raise InvalidUpload(f"Unknown form field {unknown[0][:60]!r}; the fields are file, {', '.join(fields)}.",
                                field=unknown[0][:60])
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidUpload("The form needs the CSV file in its 'file' field (a file part).", field="file")
        content = await upload.read(max_file_bytes + 1)
        if len(content) > max_file_bytes:
            raise too_large()
        values: dict[str, str] = {}
        for name in fields:
            value = form.get(name)
            if isinstance(value, UploadFile):
                raise InvalidUpload(f"'{name}' is a text field, not a file.", field=name)
            if value is not None and value.strip():
                if "\x00" in value:
                    raise InvalidUpload(f"'{name}' must not contain the NUL character.", field=name)
                values[name] = value.strip()
        return Upload(content=content, filename=upload.filename, fields=values, content_type=upload.content_type)
    finally:
        await form.close()


def json_object(text: str | None, error: type[InvalidValue]) -> dict[str, Any] | None:
    """A form field holding a JSON object (None when not sent)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise error("The mapping must be a JSON object such as {\"Phone\": \"whatsapp_id\"}.") from None
    if not isinstance(value, dict):
        raise error("The mapping must be a JSON object such as {\"Phone\": \"whatsapp_id\"}.")
    return value
