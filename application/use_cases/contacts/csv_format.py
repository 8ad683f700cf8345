"""Contact CSV files, read and written with the standard library's ``csv`` module.

Reading: UTF-8 with or without a byte-order mark; ``,`` or ``;`` between fields (given, or sniffed from the
header line); a header row; a mapping from column headers to targets (``whatsapp_id``, ``name``, ``email``,
``tags``, ``attributes`` - a JSON object - and ``attributes.<key>``). Each data row becomes a normalized
:class:`ContactRow` or a :class:`RowError` with its line number; within one file the first valid row of a
number wins and later ones are counted as duplicates.

Writing: the same columns (``tags`` joined with ``|``, ``attributes`` as a JSON object), so an export can be
imported again as it is. A cell that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
carriage return) is written with a leading ``'``, which reading removes again.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from domain.contact_imports import ContactRow, InvalidImportFile, InvalidMapping, RowError
from domain.contacts import (
    MAX_ATTRIBUTES,
    Contact,
    InvalidTag,
    InvalidWhatsAppId,
    normalize_tags,
    normalize_whatsapp_id,
)
from domain.identity import Email, InvalidEmail

DELIMITERS = (",", ";")
FIELDS = ("whatsapp_id", "name", "email", "tags", "attributes")
"""The simple targets, and the export's columns in order."""
ATTRIBUTE_PREFIX = "attributes."
TAG_SEPARATOR = "|"
_TAG_SPLIT = re.compile(r"[|,]")  # neither can be part of a tag
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_NAME = 255
MAX_ATTRIBUTES_JSON = 16_384
MAX_ATTRIBUTE_KEY = 100


# --------------------------------------------------------------------------- the file


def decode(content: bytes) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise InvalidImportFile(f"The file is not UTF-8 text (line {line}); save it as CSV UTF-8.") from None


def check_delimiter(delimiter: str | None, text: str) -> str:
    """The delimiter given (``,`` or ``;``), else the one the header line uses most (``,`` on a tie)."""
    if delimiter:
        if delimiter not in DELIMITERS:
            raise InvalidImportFile("delimiter must be ',' or ';'.", field="delimiter")
        return delimiter
    header_line = _first_line(text)
    counts = {d: _count_outside_quotes(header_line, d) for d in DELIMITERS}
    return ";" if counts[";"] > counts[","] else ","


def _first_line(text: str) -> str:
    for line in io.StringIO(text, newline=""):
        if line.strip():
            return line
    return ""


def _count_outside_quotes(line: str, char: str) -> int:
    count, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == char and not quoted:
            count += 1
    return count


@dataclass(frozen=True, slots=True)
class Record:
    line: int  # where the record starts (the header is line 1 when nothing precedes it)
    fields: list[str] | None
    problem: str | None = None  # why the csv module could not read it


def records(text: str, delimiter: str) -> Iterator[Record]:
    """Every non-blank record, the header first. A line the csv module cannot read is a record with a problem."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', doublequote=True,
                        strict=False)
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Record(start, None, str(error))
            continue
        if any(f.strip() for f in fields):
            yield Record(start, fields)


def read_header(text: str, delimiter: str) -> list[str]:
    first = next(records(text, delimiter), None)
    if first is None:
        raise InvalidImportFile("The file is empty: it needs a header row and at least one data row.")
    if first.fields is None:
        raise InvalidImportFile(f"The header row cannot be read: {first.problem}.")
    return [_unescape(h.strip()) for h in first.fields]


def count_rows(text: str, delimiter: str) -> int:
    """Data records (the header and blank lines not counted)."""
    return max(0, sum(1 for _ in records(text, delimiter)) - 1)


def most_rows(text: str) -> int:
    """A cheap upper bound of :func:`count_rows`: every record, the header too, takes at least one line."""
    return text.count("\n") + text.count("\r")


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True, slots=True)
class Column:
    index: int
    header: str
    target: str


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    columns: tuple[Column, ...]

    @property
    def mapping(self) -> dict[str, str]:
        return {c.header: c.target for c in self.columns}


def _check_target(target: str) -> str:
    if target in FIELDS:
        return target
    if target.startswith(ATTRIBUTE_PREFIX):
        key = target[len(ATTRIBUTE_PREFIX):].strip()
        if key and len(key) <= MAX_ATTRIBUTE_KEY and "\x00" not in key:
            return ATTRIBUTE_PREFIX + key
    raise InvalidMapping(f"Unknown target {target[:120]!r}: use whatsapp_id, name, email, tags, attributes or "
                         "attributes.<key>.")


def _find(header: list[str], column: str) -> int:
    exact = [i for i, h in enumerate(header) if h == column.strip()]
    found = exact or [i for i, h in enumerate(header) if h.casefold() == column.strip().casefold()]
    if not found:
        raise InvalidMapping(f"The mapping names column {column[:120]!r}, which the header row does not have.")
    if len(found) > 1:
        raise InvalidMapping(f"Column {column[:120]!r} appears more than once in the header row.")
    return found[0]


def resolve_layout(header: list[str], mapping: Mapping[str, str | None] | None) -> Layout:
    """Which column feeds which target. Without a mapping, columns named like a target are used."""
    if mapping is None:
        mapping = {h: h.casefold() for h in header
                   if h.casefold() in FIELDS or h.casefold().startswith(ATTRIBUTE_PREFIX)}
    columns: list[Column] = []
    for column, target in mapping.items():
        if target is None or target == "":  # explicitly ignored
            continue
        if not isinstance(target, str):
            raise InvalidMapping("Each mapping value is a target name (or null to ignore the column).")
        index = _find(header, column)
        columns.append(Column(index, header[index], _check_target(target)))
    targets = [c.target for c in columns]
    repeated = sorted({t for t in targets if targets.count(t) > 1})
    if repeated:
        raise InvalidMapping(f"Target {repeated[0]!r} is mapped from more than one column.")
    if "whatsapp_id" not in targets:
        raise InvalidMapping("No column maps to whatsapp_id: name one in the mapping, or call a column whatsapp_id.")
    return Layout(width=len(header), columns=tuple(sorted(columns, key=lambda c: FIELDS.index(c.target)
                                                          if c.target in FIELDS else len(FIELDS))))


# --------------------------------------------------------------------------- rows


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


def _unescape(value: str) -> str:
    """Undo the export's formula guard: a leading ``'`` before ``= + - @``."""
    return value[1:] if value.startswith("'") and value[1:2] in _FORMULA_START else value


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


def _check_attributes(column: str | None, attributes: dict[str, Any]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise _RowProblem(column, "invalid_attributes", f"A contact has at most {MAX_ATTRIBUTES} attributes.")
    text = json.dumps(attributes, ensure_ascii=False)
    if len(text) > MAX_ATTRIBUTES_JSON:
        raise _RowProblem(column, "invalid_attributes", "attributes are too large (16 KiB at most).")
    if "\\u0000" in text:
        raise _RowProblem(column, "invalid_character", "attributes must not contain the NUL character.")


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
        keyed: dict[str, Any] = {}
        for column in self._layout.columns:
            raw = fields[column.index] if column.index < len(fields) else ""
            value = _unescape(raw.strip())
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
                attributes.update(_parse_attributes(column.header, value))
            else:
                keyed[target[len(ATTRIBUTE_PREFIX):]] = value
        merged = {**attributes, **keyed}
        if merged:
            _check_attributes(None, merged)
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


# --------------------------------------------------------------------------- export


def _guard(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_header() -> str:
    return _write([list(FIELDS)])


def export_rows(contacts: Iterable[Contact]) -> str:
    return _write([[c.whatsapp_id, _guard(c.name or ""), _guard(c.email or ""), _guard(TAG_SEPARATOR.join(c.tags)),
                    json.dumps(c.attributes, ensure_ascii=False, separators=(",", ":")) if c.attributes else ""]
                   for c in contacts])


def _write(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
