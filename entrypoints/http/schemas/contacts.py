"""Contact schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field

from entrypoints.http.schemas.common import RequestModel, ResponseModel, free_json, read_only

ATTRIBUTES_MAX_BYTES = 16 * 1024
_ATTRIBUTES_DOC = "Custom fields (string keys, JSON values; at most 100)."


class ContactOut(ResponseModel):
    id: UUID
    whatsapp_id: str | None = Field(description="The phone number (E.164 digits). null for a WhatsApp username user "
                                                "known only by their BSUID, until a webhook tells their number.")
    bsuid: str | None = Field(default=None, description="Meta's business-scoped user id (e.g. "
                                                        "`US.13491208655302741918`), when a webhook told it.")
    name: str | None = None
    email: str | None = None
    tags: list[str] = []
    attributes: dict[str, Any] = {}
    opted_out: bool = False
    organization_id: UUID
    created_at: datetime
    updated_at: datetime


class ContactCreateIn(RequestModel):
    whatsapp_id: str = Field(min_length=1, max_length=32, examples=["+55 11 98765-4321"])
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=254)
    tags: list[str] = Field(default_factory=list, max_length=50)
    attributes: dict[str, Any] = free_json(_ATTRIBUTES_DOC, max_bytes=ATTRIBUTES_MAX_BYTES, default_factory=dict)
    opted_out: bool = False


class ContactUpdateIn(RequestModel):
    whatsapp_id: str | None = Field(default=None, min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=254)
    tags: list[str] | None = Field(default=None, max_length=50)
    attributes: dict[str, Any] | None = free_json(_ATTRIBUTES_DOC, max_bytes=ATTRIBUTES_MAX_BYTES, default=None)
    opted_out: bool | None = None
    bsuid: str | None = read_only()
    id: UUID | None = read_only()
    organization_id: UUID | None = read_only()
    created_at: datetime | None = read_only()
    updated_at: datetime | None = read_only()
