"""Contact CSV files, read and written with the standard library's ``csv`` module: the file level.

Reading: UTF-8 with or without a byte-order mark; ``,`` or ``;`` between fields (given, or sniffed from the header
line); a header row; records with the line they start on (``csv_mapping`` says which column feeds which field,
``csv_rows`` turns records into contacts or row errors).

Writing: the import's columns (``tags`` joined with ``|``, ``attributes`` as a JSON object), so an export can be
imported again as it is. A cell that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a
carriage return) is written with a leading ``'``, which reading removes again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from domain.contact_imports import InvalidImportFile
from domain.contacts import Contact

DELIMITERS = (",", ";")
FIELDS = ("whatsapp_id", "name", "email", "tags", "attributes")
"""The simple targets, and the export's columns in order."""
ATTRIBUTE_PREFIX = "attributes."
TAG_SEPARATOR = "|"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- reading


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
    return [unescape(h.strip()) for h in first.fields]


def count_rows(text: str, delimiter: str) -> int:
    """Data records (the header and blank lines not counted)."""
    return max(0, sum(1 for _ in records(text, delimiter)) - 1)


def most_rows(text: str) -> int:
    """A cheap upper bound of :func:`count_rows`: every record, the header too, takes at least one line."""
    return text.count("\n") + text.count("\r")



def unescape(value: str) -> str:
    """Undo the export's formula guard: a leading ``'`` before ``= + - @``."""
    return value[1:] if value.startswith("'") and value[1:2] in _FORMULA_START else value


# --------------------------------------------------------------------------- writing


def _guard(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def export_header() -> str:
    return _write([list(FIELDS)])


def export_rows(contacts: Iterable[Contact]) -> str:
    return _write([[c.whatsapp_id or "", _guard(c.name or ""), _guard(c.email or ""),
                     _guard(TAG_SEPARATOR.join(c.tags)),
                    json.dumps(c.attributes, ensure_ascii=False, separators=(",", ":")) if c.attributes else ""]
                   for c in contacts])


def _write(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()
