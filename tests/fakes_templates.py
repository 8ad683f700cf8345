"""In-memory message template repository on the one ``FakeStore`` (``tests/fake_uow.py``).

Mirrors the PostgreSQL adapter: scoped to the unit of work's organization (the system scope sees every row),
unique (organization, WABA, name, language), templates a sync no longer lists marked ``DELETED``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID, uuid4

from application.ports.templates import MessageTemplateRepository, RemoteTemplate, TemplateChange, TemplateFilter
from domain.templates import DELETED, MessageTemplate

_SYNCED = ("meta_template_id", "category", "status", "quality_score", "components", "parameter_format",
           "rejected_reason")


class _TemplateUow(Protocol):
    organization_id: UUID | None

    @property
    def work(self) -> Any: ...


class FakeMessageTemplateRepository(MessageTemplateRepository):
    def __init__(self, uow: _TemplateUow) -> None:
        self._uow = uow

    @property
    def _rows(self) -> dict[UUID, MessageTemplate]:
        rows: dict[UUID, MessageTemplate] = self._uow.work.templates
        return rows

    def _org(self) -> UUID:
        if self._uow.organization_id is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._uow.organization_id

    def _mine(self) -> list[MessageTemplate]:
        org = self._org()
        return [row for row in self._rows.values() if row.organization_id == org]

    async def replace_for_waba(self, waba_id: str, templates: Sequence[RemoteTemplate], now: datetime) -> int:
        org = self._org()
        existing = {(r.name, r.language): r for r in self._mine() if r.waba_id == waba_id}
        for remote in templates:
            row = existing.get((remote.name, remote.language))
            if row is not None and row.synced_at > now:
                continue  # a sync that started reading later already stored it
            if row is None:
                row = MessageTemplate(id=uuid4(), organization_id=org, waba_id=waba_id,
                                      meta_template_id=remote.meta_template_id, name=remote.name,
                                      language=remote.language, status=remote.status, synced_at=now, updated_at=now)
                self._rows[row.id] = row
                existing[(row.name, row.language)] = row
            elif any(getattr(row, name) != getattr(remote, name) for name in _SYNCED):
                row.updated_at = now
            for name in _SYNCED:
                setattr(row, name, copy.deepcopy(getattr(remote, name)))
            row.synced_at = now
        gone = [r for r in existing.values() if r.synced_at < now and r.status != DELETED]
        for row in gone:
            row.status, row.updated_at, row.synced_at = DELETED, now, now
        return len(gone)

    async def get(self, waba_id: str, name: str, language: str) -> MessageTemplate | None:
        found = next((r for r in self._mine() if (r.waba_id, r.name, r.language) == (waba_id, name, language)), None)
        return copy.deepcopy(found)

    async def has_any(self, waba_id: str) -> bool:
        return any(r.waba_id == waba_id for r in self._mine())

    async def list(self, criteria: TemplateFilter, *, limit: int, offset: int) -> tuple[list[MessageTemplate], int]:
        rows = [r for r in self._mine()
                if (criteria.waba_ids is None or r.waba_id in criteria.waba_ids)
                and (not criteria.status or r.status == criteria.status.upper())
                and (not criteria.query or criteria.query.lower() in r.name.lower())]
        rows.sort(key=lambda r: (r.name, r.language, r.waba_id, str(r.id)))
        return [copy.deepcopy(r) for r in rows[offset:offset + limit]], len(rows)

    async def apply_changes_any_org(self, changes: Sequence[TemplateChange], now: datetime) -> int:
        changed = 0
        for change in changes:
            values = {name: getattr(change, name) for name in ("status", "quality_score", "category",
                                                                "rejected_reason") if getattr(change, name)}
            for row in self._rows.values():
                if self._uow.organization_id not in (None, row.organization_id) or row.waba_id != change.waba_id:
                    continue
                if change.meta_template_id:
                    if row.meta_template_id != change.meta_template_id:
                        continue
                elif (row.name, row.language) != (change.name, change.language):
                    continue
                at = change.occurred_at
                if at is not None and ((row.event_at is not None and row.event_at > at)
                                       or row.synced_at.replace(microsecond=0) > at):
                    continue  # stale: older than the last change applied or the last sync's read
                if values and any(getattr(row, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(row, name, value)
                    row.updated_at = now
                    row.event_at = at if at is not None else row.event_at
                    changed += 1
        return changed
