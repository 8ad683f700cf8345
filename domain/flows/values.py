"""Safe conversions of variable values: to text, to numbers, JSON-safe copies, JSON-path lookups."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

VARIABLE_NAME = re.compile(r"[^\W\d]\w{0,63}")
"""A name a node may write to: a letter or ``_`` then letters, digits or ``_`` (Unicode ok, <= 64)."""

RESERVED_NAMES = frozenset({"contact", "secret"})
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_INDEX = re.compile(r"\[(\d+)\]")


def is_variable_name(name: str) -> bool:
    return VARIABLE_NAME.fullmatch(name) is not None and name not in RESERVED_NAMES


def to_text(value: object) -> str:
    """How a value reads inside a message: None -> "", booleans lower-case, 3.0 -> "3", JSON for objects."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping | list | tuple):
        try:
            return json.dumps(json_safe(value), ensure_ascii=False, separators=(",", ":"))
        except (ValueError, TypeError, RecursionError):
            return ""
    return str(value)


def to_number(value: object) -> float | None:
    """A finite number from an int, float or numeric string ("1,5" reads as 1.5); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if _DECIMAL_COMMA.fullmatch(text):
            text = text.replace(",", ".")
        if not text or len(text) > 64 or text.lower().lstrip("+-") in {"nan", "inf", "infinity"}:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def plain_number(number: float) -> int | float:
    """Integral floats become ints so ``{{age}}`` reads "30", not "30.0"."""
    return int(number) if number.is_integer() and abs(number) < 1e16 else number


def json_safe(value: object, _depth: int = 0) -> Any:
    """A deep copy made only of dict/list/str/int/float/bool/None; anything else becomes text."""
    if _depth > 64:
        return None
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, _depth + 1) for v in value]
    return str(value)


def split_path(path: str) -> list[str]:
    """``$.data.items[0].id`` / ``data.items.0.id`` -> ["data", "items", "0", "id"]; "" or "$" -> []."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    text = _INDEX.sub(r".\1", text)
    return [part for part in text.split(".") if part]


def lookup(value: object, parts: list[str]) -> object | None:
    """Walk mappings by key and lists by integer index; None when any step is missing."""
    current = value
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(current) <= index < len(current):
                return None
            current = current[index]
        else:
            return None
    return current


def extract_json_path(body: object, path: str) -> object | None:
    """The value at ``path`` in a response body; a JSON text body is parsed first."""
    parts = split_path(path)
    if isinstance(body, str | bytes) and parts:
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):
            return None
    found: object = json_safe(lookup(body, parts))
    return found
