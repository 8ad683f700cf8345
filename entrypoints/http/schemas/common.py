"""Base schemas: request bodies only hold JSON that PostgreSQL can store, within documented limits; responses
are plain.

Python's JSON parser accepts text that PostgreSQL refuses (``jsonb`` and ``text`` columns): lone UTF-16
surrogates (``"\\ud800"``), the NUL character, ``NaN``/``Infinity`` and numbers that overflow to infinity
(``1e400``). Every request body is walked once, without recursion, and any of them anywhere (keys included) is a
422, as is nesting deeper than ``BODY_MAX_DEPTH``. Free-form fields (``dict[str, Any]`` and the like) also carry
their own limits, declared with ``free_json(...)``: a nesting depth and a size (the field as compact UTF-8
JSON); both are shown in the OpenAPI document (description, ``x-max-depth``, ``x-max-bytes``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

BODY_MAX_DEPTH = 64
"""Nesting of a whole request body (objects and arrays); free-form fields have their own, lower limit."""
FREE_JSON_MAX_DEPTH = 32
FREE_JSON_MAX_BYTES = 64 * 1024


def free_json(description: str, *, max_bytes: int = FREE_JSON_MAX_BYTES, max_depth: int = FREE_JSON_MAX_DEPTH,
              **field: Any) -> Any:
    """The ``Field`` of a free-form JSON field (``field`` are Field's own arguments, e.g. ``default_factory``):
    its limits are enforced by ``CheckedModel`` and documented in its description and schema."""
    return Field(description=f"{description} At most {max_bytes:,} bytes as JSON, nested at most {max_depth} deep.",
                 json_schema_extra={"x-max-bytes": max_bytes, "x-max-depth": max_depth}, **field)


def _at(path: tuple[str | int, ...], problem: str) -> str:
    return f"{'.'.join(str(p) for p in path)}: {problem}" if path else problem


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "text must not contain the NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
    elif isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite (no NaN, Infinity or overflowing values such as 1e400)"
    return None


def json_problem(data: Any, *, max_depth: int, where: str | None = None) -> str | None:
    """The first reason ``data`` cannot be stored as JSON text (naming where in it), or None. Iterative: any
    depth is safe to walk."""
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(data, 0, (where,) if where else ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, dict | list | tuple):
            if depth >= max_depth:
                return _at(path, f"nested deeper than {max_depth} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                problem = _scalar_problem(key)
                if problem:
                    return _at(path, f"a key: {problem}")
                stack.append((item, depth + 1, (*path, key)))
        else:
            problem = _scalar_problem(value)
            if problem:
                return _at(path, problem)
    return None


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON (call only on data ``json_problem`` accepted)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class CheckedModel(BaseModel):
    """Refuses JSON PostgreSQL cannot store anywhere in the data, and free-form fields beyond their limits."""

    @model_validator(mode="before")
    @classmethod
    def _check_json(cls, data: Any) -> Any:
        problem = json_problem(data, max_depth=BODY_MAX_DEPTH)
        if problem:
            raise ValueError(problem)
        if isinstance(data, dict):
            for name, field in cls.model_fields.items():
                limits = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
                if name not in data or "x-max-bytes" not in limits:
                    continue
                problem = json_problem(data[name], max_depth=int(limits["x-max-depth"]),  # type: ignore[arg-type]
                                       where=name)
                if problem:
                    raise ValueError(problem)
                if json_size(data[name]) > int(limits["x-max-bytes"]):  # type: ignore[arg-type]
                    raise ValueError(f"{name}: larger than {limits['x-max-bytes']:,} bytes as JSON")
        return data


class RequestModel(CheckedModel):
    """Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ResponseModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class MessageResponse(ResponseModel):
    message: str


def read_only() -> Any:
    """A field of the resource that a PUT (or PATCH) accepts and ignores, so that a client can send back the body a
    GET returned; left out of ``model_dump``. Fields the resource does not have are still refused."""
    return Field(default=None, exclude=True, json_schema_extra={"readOnly": True},
                 description="Read-only: accepted so that a GET body can be sent back, and ignored.")
