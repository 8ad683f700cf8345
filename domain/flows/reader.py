"""A forgiving reader of node ``data`` that records a problem instead of raising."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from domain.flows.values import is_variable_name

_HTTP_URL = re.compile(r"https?://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Item:
    """One element of a list field: ``label`` is its path for messages (``buttons[0]``)."""

    label: str
    value: object


class DataReader:
    def __init__(self, data: Mapping[str, object], prefix: str = "", problems: list[str] | None = None):
        self._data = data
        self._prefix = prefix
        self.problems: list[str] = [] if problems is None else problems

    def name(self, key: str) -> str:
        return f"'{self._prefix}{key}'"

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def raw(self, key: str) -> object:
        return self._data.get(key)

    def text(self, key: str, *, required: bool = True, max_len: int | None = None) -> str | None:
        value = self._data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(f"{self.name(key)} is required")
            return None
        if not isinstance(value, str):
            self.problem(f"{self.name(key)} must be a string")
            return None
        if max_len is not None and len(value) > max_len:
            self.problem(f"{self.name(key)} must be at most {max_len} characters")
        return value

    def url(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required, max_len=2048)
        if value is not None and not _HTTP_URL.fullmatch(value.strip()):
            self.problem(f"{self.name(key)} must be an http:// or https:// URL")
        return value.strip() if value is not None else None

    def variable(self, key: str, *, required: bool = True) -> str | None:
        value = self.text(key, required=required)
        if value is not None and not self.check_variable_name(key, value.strip()):
            return None
        return value.strip() if value is not None else None

    def check_variable_name(self, key: str, value: str) -> bool:
        if is_variable_name(value):
            return True
        self.problem(f"{self.name(key)} is not a valid variable name: '{value}'")
        return False

    def integer(
        self, key: str, *, default: int | None, low: int, high: int, required: bool = False
    ) -> int | None:
        value = self._data.get(key)
        if value is None or value == "":
            if required:
                self.problem(f"{self.name(key)} is required")
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(f"{self.name(key)} must be a whole number from {low} to {high}")
            return default
        return value

    def items(self, key: str, *, minimum: int = 0, maximum: int | None = None) -> list[Item]:
        value = self._data.get(key)
        if value is None:
            if minimum > 0:
                self.problem(f"{self.name(key)} is required")
            return []
        if not isinstance(value, list | tuple):
            self.problem(f"{self.name(key)} must be a list")
            return []
        if len(value) < minimum or (maximum is not None and len(value) > maximum):
            bound = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            self.problem(f"{self.name(key)} must have {bound} item{'s' if (maximum or minimum) != 1 else ''}")
        return [Item(f"{key}[{i}]", v) for i, v in enumerate(value)]

    def child(self, key: str | Item) -> DataReader:
        label, value = (key.label, key.value) if isinstance(key, Item) else (key, self._data.get(key))
        if not isinstance(value, Mapping):
            self.problem(f"{self.name(label)} must be an object")
            return DataReader({}, f"{self._prefix}{label}.")  # its own problems would only be noise
        return DataReader(value, f"{self._prefix}{label}.", self.problems)

    def text_item(self, item: Item) -> str | None:
        if isinstance(item.value, int | float) and not isinstance(item.value, bool):
            return str(item.value)
        if not isinstance(item.value, str) or not item.value.strip():
            self.problem(f"{self.name(item.label)} must be a non-empty string")
            return None
        return item.value

    def string_map(self, key: str) -> dict[str, str]:
        value = self._data.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
            self.problem(f"{self.name(key)} must be an object whose values are strings")
            return {}
        return {str(k): str(v) for k, v in value.items()}

    def unique(self, what: str, values: list[str]) -> None:
        seen: set[str] = set()
        for value in values:
            if value and value in seen:
                self.problem(f"{what} must be unique: '{value}' appears more than once")
                return
            seen.add(value)
