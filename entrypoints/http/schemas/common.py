"""Base schema: unknown fields are refused; responses are plain."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """Unknown fields are refused, and so is the NUL character anywhere (PostgreSQL text cannot hold it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data: Any) -> Any:
        if _has_nul(data):
            raise ValueError("text must not contain the NUL character")
        return data


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MessageResponse(ResponseModel):
    message: str


def read_only() -> Any:
    """A field of the resource that a PUT (or PATCH) accepts and ignores, so that a client can send back the body a
    GET returned; left out of ``model_dump``. Fields the resource does not have are still refused."""
    return Field(default=None, exclude=True, json_schema_extra={"readOnly": True},
                 description="Read-only: accepted so that a GET body can be sent back, and ignored.")
