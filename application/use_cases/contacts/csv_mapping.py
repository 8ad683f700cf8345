"""Which column of a contact CSV feeds which field: the mapping sent with the upload, or the header's own names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from application.use_cases.contacts.csv_format import ATTRIBUTE_PREFIX, FIELDS
from domain.contact_imports import InvalidMapping

MAX_ATTRIBUTE_KEY = 100


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

