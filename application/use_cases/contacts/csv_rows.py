"""Rows of a contact CSV: each record becomes a normalized :class:`ContactRow` or a :class:`RowError` with its line;
within one file the first valid row of a number wins and later ones are duplicates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from application.use_cases.contacts.csv_format import ATTRIBUTE_PREFIX, records, unescape
from application.use_cases.contacts.csv_mapping import Layout
from domain.contact_imports import ContactRow, RowError
from domain.contacts import MAX_ATTRIBUTES, InvalidTag, InvalidWhatsAppId, normalize_tags, normalize_whatsapp_id
from domain.identity import Email, InvalidEmail

_TAG_SPLIT = re.compile(r"[|,]")  # neither can be part of a tag
MAX_NAME = 255
MAX_ATTRIBUTES_JSON = 16_384



@dataclass(frozen=True, slots=True)
class ParsedRow:
    line: int
    row: ContactRow | None = None
    error: RowError | None = None
    duplicate: bool = False


class _RowProblem(Exception):
    def __init__(self, column: str | None, code: str, reason: str) -> None:
        super().__init__(reason)
        self.column, self.code, self.reason = column, code, reason


def _reject_nan(constant: str) -> Any:
    raise ValueError(constant)


def _parse_attributes(column: str, value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value, parse_constant=_reject_nan)
    except ValueError:
        raise _RowProblem(column, "invalid_attributes", "attributes must be a JSON object.") from None
    if not isinstance(parsed, dict):
        raise _RowProblem(column, "invalid_attributes", "attributes must be a JSON object.")
    return parsed


def _check_attributes(attributes: dict[str, Any], json_length: int, keyed: dict[str, str]) -> None:
    """At most 100 attributes and 16 KiB of JSON. The exact size (serializing) is only computed when a cheap upper
    bound is over the limit: the JSON cell's own length (plus the separators ``json.dumps`` adds) and the keyed
    values as if every character had to be escaped."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise _RowProblem(None, "invalid_attributes", f"A contact has at most {MAX_ATTRIBUTES} attributes.")
    bound = json_length + 2 * len(attributes) + sum(6 * (len(k) + len(v)) + 6 for k, v in keyed.items())
    if bound > MAX_ATTRIBUTES_JSON and len(json.dumps(attributes, ensure_ascii=False)) > MAX_ATTRIBUTES_JSON:
        raise _RowProblem(None, "invalid_attributes", "attributes are too large (16 KiB at most).")


class RowReader:
    """Turns one record into a :class:`ContactRow`, or the first problem found in it."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout

    def read(self, line: int, fields: list[str]) -> ContactRow | RowError:
        try:
            return self._read(fields)
        except _RowProblem as problem:
            return RowError(line=line, column=problem.column, error_code=problem.code, reason=problem.reason)

    def _read(self, fields: list[str]) -> ContactRow:
        if len(fields) > self._layout.width:
            raise _RowProblem(None, "too_many_fields", f"The row has {len(fields)} fields; the header has "
                                                       f"{self._layout.width} (quote values that hold the delimiter).")
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        keyed: dict[str, str] = {}
        json_length = 0
        for column in self._layout.columns:
            raw = fields[column.index] if column.index < len(fields) else ""
            value = unescape(raw.strip())
            if "\x00" in value:
                raise _RowProblem(column.header, "invalid_character", "The value contains the NUL character.")
            target = column.target
            if target == "whatsapp_id":
                values[target] = self._whatsapp_id(column.header, value)
            elif not value:
                continue
            elif target == "name":
                if len(value) > MAX_NAME:
                    raise _RowProblem(column.header, "name_too_long", f"name is longer than {MAX_NAME} characters.")
                values[target] = value
            elif target == "email":
                try:
                    values[target] = Email(value).value
                except InvalidEmail as error:
                    raise _RowProblem(column.header, error.code, error.message) from None
            elif target == "tags":
                tags = self._tags(column.header, value)
                if tags:
                    values[target] = tags
            elif target == "attributes":
                if "\\u0000" in value:  # a NUL character can only come in escaped, and PostgreSQL refuses it
                    raise _RowProblem(column.header, "invalid_character", "attributes must not contain the NUL "
                                                                          "character.")
                attributes.update(_parse_attributes(column.header, value))
                json_length = len(value)
            else:
                keyed[target[len(ATTRIBUTE_PREFIX):]] = value
        merged = {**attributes, **keyed}
        if merged:
            _check_attributes(merged, json_length, keyed)
            values["attributes"] = merged
        return ContactRow(**values)

    @staticmethod
    def _whatsapp_id(header: str, value: str) -> str:
        if not value:
            raise _RowProblem(header, "missing_whatsapp_id", "whatsapp_id is empty.")
        try:
            return normalize_whatsapp_id(value)
        except InvalidWhatsAppId as error:
            raise _RowProblem(header, error.code, error.message) from None

    @staticmethod
    def _tags(header: str, value: str) -> list[str]:
        try:
            return normalize_tags([t for t in _TAG_SPLIT.split(value) if t.strip()])
        except InvalidTag as error:
            raise _RowProblem(header, error.code, error.message) from None


def parse_rows(text: str, delimiter: str, layout: Layout) -> Iterator[ParsedRow]:
    """Every data record in file order; the first valid row of a number wins, later ones are duplicates."""
    reader = RowReader(layout)
    seen: set[str] = set()
    rows = records(text, delimiter)
    next(rows, None)  # the header
    for record in rows:
        if record.fields is None:
            yield ParsedRow(record.line, error=RowError(line=record.line, column=None, error_code="malformed_row",
                                                        reason=f"The row cannot be read as CSV: {record.problem}."))
            continue
        outcome = reader.read(record.line, record.fields)
        if isinstance(outcome, RowError):
            yield ParsedRow(record.line, error=outcome)
        elif outcome.whatsapp_id in seen:
            yield ParsedRow(record.line, row=outcome, duplicate=True)
        else:
            seen.add(outcome.whatsapp_id)
            yield ParsedRow(record.line, row=outcome)

