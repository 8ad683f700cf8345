"""Contact schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import Field, field_validator

from entrypoints.http.schemas.common import RequestModel, ResponseModel, read_only

_ATTRIBUTES_DOC = "Custom fields (string keys, JSON values; at most 100)"


def _check_attribute_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(str(value)) > 16_384:
        raise ValueError("attributes are too large (16 KiB at most)")
    return value


class ContactOut(ResponseModel):
    id: UUID
    whatsapp_id: str
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
    attributes: dict[str, Any] = Field(default_factory=dict, description=_ATTRIBUTES_DOC)
    opted_out: bool = False

    _size = field_validator("attributes")(_check_attribute_size)


class ContactUpdateIn(RequestModel):
    whatsapp_id: str | None = Field(default=None, min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=254)
    tags: list[str] | None = Field(default=None, max_length=50)
    attributes: dict[str, Any] | None = Field(default=None, description=_ATTRIBUTES_DOC)
    opted_out: bool | None = None
    id: UUID | None = read_only()
    organization_id: UUID | None = read_only()
    created_at: datetime | None = read_only()
    updated_at: datetime | None = read_only()

    _size = field_validator("attributes")(_check_attribute_size)
