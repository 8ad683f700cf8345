"""Message templates, scoped to one organization (webhook changes in system scope)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import and_, case, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.repositories.contacts import like_pattern
from adapters.postgres.tables import message_templates as t
from application.ports.templates import MessageTemplateRepository, RemoteTemplate, TemplateChange, TemplateFilter
from domain.templates import DELETED, MessageTemplate

_CHUNK = 1000
_SYNCED = ("meta_template_id", "category", "status", "quality_score", "components", "parameter_format",
           "rejected_reason")


def _template(row: Any) -> MessageTemplate:
    return MessageTemplate(
        id=row.id, organization_id=row.organization_id, waba_id=row.waba_id, meta_template_id=row.meta_template_id,
        name=row.name, language=row.language, category=row.category, status=row.status,
        quality_score=row.quality_score, components=list(row.components), parameter_format=row.parameter_format,
        rejected_reason=row.rejected_reason, event_at=row.event_at, synced_at=row.synced_at,
        updated_at=row.updated_at)


class SqlAlchemyMessageTemplateRepository(MessageTemplateRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None) -> None:
        self._s, self._org = session, organization_id

    def _scoped(self) -> Any:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return t.c.organization_id == self._org

    async def replace_for_waba(self, waba_id: str, templates: Sequence[RemoteTemplate], now: datetime) -> int:
        self._scoped()
        unique = {(r.name, r.language): r for r in templates}  # Meta lists a (name, language) once; be sure
        rows = [{"id": uuid4(), "organization_id": self._org, "waba_id": waba_id,
                 "meta_template_id": r.meta_template_id, "name": r.name, "language": r.language,
                 "category": r.category, "status": r.status, "quality_score": r.quality_score,
                 "components": r.components, "parameter_format": r.parameter_format,
                 "rejected_reason": r.rejected_reason, "synced_at": now, "updated_at": now} for r in unique.values()]
        for start in range(0, len(rows), _CHUNK):
            statement = insert(t).values(rows[start:start + _CHUNK])
            new = statement.excluded
            changed = tuple_(*(t.c[name] for name in _SYNCED)).is_distinct_from(
                tuple_(*(new[name] for name in _SYNCED)))
            await self._s.execute(statement.on_conflict_do_update(
                index_elements=[t.c.organization_id, t.c.waba_id, t.c.name, t.c.language],
                set_={**{name: new[name] for name in _SYNCED}, "synced_at": new.synced_at,
                      "updated_at": case((changed, new.updated_at), else_=t.c.updated_at)},
                where=t.c.synced_at <= new.synced_at))  # two syncs at once: the older read never wins
        gone = await self._s.execute(update(t).where(
            self._scoped(), t.c.waba_id == waba_id, t.c.synced_at < now, t.c.status != DELETED,
        ).values(status=DELETED, updated_at=now, synced_at=now))
        return int(getattr(gone, "rowcount", 0) or 0)

    async def get(self, waba_id: str, name: str, language: str) -> MessageTemplate | None:
        row = (await self._s.execute(select(t).where(
            self._scoped(), t.c.waba_id == waba_id, t.c.name == name, t.c.language == language))).first()
        return _template(row) if row else None

    async def has_any(self, waba_id: str) -> bool:
        found = await self._s.execute(select(t.c.id).where(self._scoped(), t.c.waba_id == waba_id).limit(1))
        return found.first() is not None

    async def list(self, criteria: TemplateFilter, *, limit: int, offset: int) -> tuple[list[MessageTemplate], int]:
        conditions = [self._scoped()]
        if criteria.waba_ids is not None:
            conditions.append(t.c.waba_id.in_(list(criteria.waba_ids)))
        if criteria.status:
            conditions.append(t.c.status == criteria.status.upper())
        if criteria.query:
            conditions.append(func.lower(t.c.name).like(like_pattern(criteria.query), escape="\\"))
        where = and_(*conditions)
        total = (await self._s.execute(select(func.count()).select_from(t).where(where))).scalar_one()
        rows = (await self._s.execute(select(t).where(where).order_by(t.c.name, t.c.language, t.c.waba_id, t.c.id)
                                      .limit(limit).offset(offset))).all()
        return [_template(row) for row in rows], int(total)

    async def apply_changes_any_org(self, changes: Sequence[TemplateChange], now: datetime) -> int:
        changed = 0
        for change in changes:
            values = {name: getattr(change, name) for name in ("status", "quality_score", "category",
                                                                "rejected_reason") if getattr(change, name)}
            if not values:
                continue
            target = [t.c.waba_id == change.waba_id]
            if change.meta_template_id:
                target.append(t.c.meta_template_id == change.meta_template_id)
            elif change.name and change.language:
                target.extend([t.c.name == change.name, t.c.language == change.language])
            else:
                continue
            if self._org is not None:
                target.append(t.c.organization_id == self._org)
            stamp: dict[str, Any] = {}
            if change.occurred_at is not None:  # stale: older than the last change applied or the last sync's read
                target.append(or_(t.c.event_at.is_(None), t.c.event_at <= change.occurred_at))
                target.append(func.date_trunc("second", t.c.synced_at) <= change.occurred_at)
                stamp["event_at"] = change.occurred_at
            result = await self._s.execute(update(t).where(*target, or_(*(
                t.c[name].is_distinct_from(value) for name, value in values.items()))).values(
                **values, **stamp, updated_at=now))
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed
