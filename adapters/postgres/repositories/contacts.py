"""Contacts, scoped to one organization."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    DateTime,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import execute_translated
from adapters.postgres.tables import contacts
from application.ports.common import Total
from application.ports.contacts import ContactRepository
from application.ports.uow import TransactionConflict
from domain.contact_imports import BatchCounts, ContactRow, ImportMode
from domain.contacts import Contact

_COLUMNS = [c for c in contacts.c if c.name != "search_text"]
_CHUNK = 2000


def _contact(row: Any) -> Contact:
    return Contact(id=row.id, organization_id=row.organization_id, whatsapp_id=row.whatsapp_id, bsuid=row.bsuid,
                   name=row.name,
                   email=row.email, tags=list(row.tags or []), attributes=dict(row.attributes or {}),
                   opted_out=row.opted_out, opted_out_at=row.opted_out_at, created_at=row.created_at,
                   updated_at=row.updated_at)


def _values(contact: Contact) -> dict[str, Any]:
    return {"whatsapp_id": contact.whatsapp_id, "bsuid": contact.bsuid, "name": contact.name, "email": contact.email,
            "tags": contact.tags, "attributes": contact.attributes, "opted_out": contact.opted_out,
            "opted_out_at": contact.opted_out_at, "updated_at": contact.updated_at}


def like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SqlAlchemyContactRepository(ContactRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._s, self._org = session, organization_id
        self._counter = counter or ListCounter()

    def _scoped(self) -> Any:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return contacts.c.organization_id == self._org

    async def _write(self, statement: Any) -> Any:
        return await execute_translated(self._s, statement)

    async def add(self, contact: Contact) -> None:
        if contact.organization_id != self._org:
            raise RuntimeError("contact belongs to another organization")
        await self._write(insert(contacts).values(id=contact.id, organization_id=contact.organization_id,
                                                  created_at=contact.created_at, **_values(contact)))

    async def get_or_add(self, contact: Contact) -> Contact:
        if contact.organization_id != self._org:
            raise RuntimeError("contact belongs to another organization")
        # ON CONFLICT waits for a concurrent insert of the same number and then does nothing; the SELECT
        # (a new statement, a new snapshot) sees the row that transaction committed.
        statement = pg_insert(contacts).values(id=contact.id, organization_id=contact.organization_id,
                                               created_at=contact.created_at, **_values(contact))
        inserted = (await self._s.execute(statement.on_conflict_do_nothing(
            index_elements=["organization_id", "whatsapp_id"]).returning(contacts.c.id))).first()
        if inserted is not None:
            return contact
        if contact.whatsapp_id is None:
            raise ValueError("get_or_add needs a whatsapp_id")
        existing = await self.get_by_whatsapp_id(contact.whatsapp_id)
        if existing is None:  # the other transaction rolled back after all: ours wins on a second try
            return await self.get_or_add(contact)
        return existing

    async def get_or_add_many(self, new_contacts: Sequence[Contact]) -> dict[str, Contact]:
        rows = [{"id": c.id, "organization_id": self._scoped_org(c), "created_at": c.created_at, **_values(c)}
                for c in sorted(new_contacts, key=lambda c: c.whatsapp_id or "")]
        if not rows:
            return {}
        # as in get_or_add: ON CONFLICT waits for a concurrent insert of the same number, and the SELECT that
        # follows (a new snapshot) sees what that transaction committed
        await self._s.execute(pg_insert(contacts).on_conflict_do_nothing(
            index_elements=["organization_id", "whatsapp_id"]), rows)
        found = await self.get_many_by_whatsapp_ids([r["whatsapp_id"] for r in rows])
        missing = [c for c in new_contacts if c.whatsapp_id not in found]  # the other transaction rolled back
        if missing:
            found.update(await self.get_or_add_many(missing))
        return found

    async def find_by_identities(self, whatsapp_ids: Sequence[str], bsuids: Sequence[str]) -> list[Contact]:
        if not whatsapp_ids and not bsuids:
            return []
        # one statement for the batch, each branch on its unique index; locked in id order (merges and identity
        # updates follow), so two transactions meeting on the same contacts wait instead of deadlocking
        rows = (await self._s.execute(select(*_COLUMNS).where(self._scoped(), or_(
            contacts.c.whatsapp_id == any_(cast(list(whatsapp_ids), ARRAY(Text))),
            contacts.c.bsuid == any_(cast(list(bsuids), ARRAY(Text))))).order_by(contacts.c.id).with_for_update(
            of=contacts))).all()
        return [_contact(r) for r in rows]

    async def add_new(self, new_contacts: Sequence[Contact]) -> None:
        rows = [{"id": c.id, "organization_id": self._scoped_org(c), "created_at": c.created_at, **_values(c)}
                for c in sorted(new_contacts, key=lambda c: (c.whatsapp_id or "", c.bsuid or ""))]
        if rows:  # a number or BSUID another transaction added meanwhile is left as it is (the caller reads again)
            await self._s.execute(pg_insert(contacts).on_conflict_do_nothing(), rows)

    async def merge_into(self, source_id: UUID, target: Contact, now: datetime) -> None:
        params = {"source": source_id, "target": target.id, "org": self._scoped_org(target), "now": now}
        for statement in _MERGE:
            await self._s.execute(statement, params)
        await self._write(update(contacts).where(contacts.c.id == target.id, self._scoped())
                          .values(**_values(target)))

    async def adopt_whatsapp_ids(self, changes: Mapping[UUID, tuple[str, str]], now: datetime) -> None:
        if not changes:
            return
        ordered = sorted(changes.items())
        await self._s.execute(_ADOPT, {"org": self._scoped_org_id(), "now": now, "ids": [i for i, _ in ordered],
                                       "old": [o for _, (o, _) in ordered], "new": [n for _, (_, n) in ordered]})

    async def adopt_bsuids(self, bsuids: Mapping[UUID, str], now: datetime) -> None:
        if not bsuids:
            return
        ordered = sorted(bsuids.items())
        await self._s.execute(_ADOPT_BSUIDS, {"org": self._scoped_org_id(), "now": now,
                                              "ids": [i for i, _ in ordered], "bsuids": [b for _, b in ordered]})

    async def fill_missing_names(self, names: Mapping[UUID, str], now: datetime) -> None:
        if not names:
            return
        await self._s.execute(update(contacts).where(
            contacts.c.id == bindparam("_id"), self._scoped(), contacts.c.name.is_(None)).values(
            name=bindparam("_name"), updated_at=now), [{"_id": k, "_name": v} for k, v in sorted(names.items())])

    async def get(self, contact_id: UUID) -> Contact | None:
        row = (await self._s.execute(select(*_COLUMNS).where(contacts.c.id == contact_id, self._scoped()))
               ).first()
        return _contact(row) if row else None

    async def get_by_whatsapp_id(self, whatsapp_id: str) -> Contact | None:
        row = (await self._s.execute(select(*_COLUMNS).where(contacts.c.whatsapp_id == whatsapp_id,
                                                             self._scoped()))).first()
        return _contact(row) if row else None

    async def get_many(self, contact_ids: Sequence[UUID]) -> dict[UUID, Contact]:
        found: dict[UUID, Contact] = {}
        for start in range(0, len(contact_ids), _CHUNK):
            rows = (await self._s.execute(select(*_COLUMNS).where(
                self._scoped(), contacts.c.id.in_(list(contact_ids[start:start + _CHUNK]))))).all()
            found.update({r.id: _contact(r) for r in rows})
        return found

    async def get_many_by_whatsapp_ids(self, whatsapp_ids: Sequence[str]) -> dict[str, Contact]:
        found: dict[str, Contact] = {}
        for start in range(0, len(whatsapp_ids), _CHUNK):
            rows = (await self._s.execute(select(*_COLUMNS).where(
                self._scoped(), contacts.c.whatsapp_id.in_(list(whatsapp_ids[start:start + _CHUNK]))))).all()
            found.update({r.whatsapp_id: _contact(r) for r in rows})
        return found

    async def add_many(self, new_contacts: Sequence[Contact]) -> None:
        rows = [{"id": c.id, "organization_id": self._scoped_org(c), "created_at": c.created_at, **_values(c)}
                for c in new_contacts]
        for start in range(0, len(rows), _CHUNK):
            await self._s.execute(pg_insert(contacts).values(rows[start:start + _CHUNK]).on_conflict_do_nothing(
                constraint="contacts_org_whatsapp_id_key"))

    def _scoped_org(self, contact: Contact) -> UUID:
        if contact.organization_id != self._org:
            raise RuntimeError("contact belongs to another organization")
        return contact.organization_id

    async def update(self, contact: Contact) -> None:
        await self._write(update(contacts).where(contacts.c.id == contact.id, self._scoped())
                          .values(**_values(contact)))

    async def delete(self, contact_id: UUID) -> bool:
        result = await self._s.execute(delete(contacts).where(contacts.c.id == contact_id, self._scoped())
                                       .returning(contacts.c.id))
        return result.first() is not None

    async def search(self, *, query: str | None, limit: int, offset: int) -> tuple[list[Contact], Total]:
        conditions = [self._scoped()]
        if query:
            conditions.append(contacts.c.search_text.like(like_pattern(query), escape="\\"))
        rows = (await self._s.execute(
            select(*_COLUMNS).where(*conditions).order_by(contacts.c.created_at.desc(), contacts.c.id.desc())
            .limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(contacts.c.id).where(*conditions),
                                          key=("contacts", self._org, query))
        return [_contact(r) for r in rows], total

    async def page(self, *, query: str | None, tag: str | None, before: tuple[datetime, UUID] | None,
                   limit: int) -> list[Contact]:
        conditions = [self._scoped()]
        if query:
            conditions.append(contacts.c.search_text.like(like_pattern(query), escape="\\"))
        if tag:
            conditions.append(func.pytake_lower_tags(contacts.c.tags).op("@>")(array([func.lower(tag)])))
        if before is not None:
            conditions.append(tuple_(contacts.c.created_at, contacts.c.id) < tuple_(
                literal(before[0], DateTime(timezone=True)), literal(before[1], PG_UUID(as_uuid=True))))
        rows = (await self._s.execute(select(*_COLUMNS).where(*conditions).order_by(
            contacts.c.created_at.desc(), contacts.c.id.desc()).limit(limit))).all()
        return [_contact(r) for r in rows]

    async def import_rows(self, rows: Sequence[ContactRow], *, mode: ImportMode, now: datetime) -> BatchCounts:
        if not rows:
            return BatchCounts()
        # inserted in one order by every writer (fewer lock waits); a deadlock that still happens is a
        # TransactionConflict, and the batch is tried again
        rows = sorted(rows, key=lambda r: r.whatsapp_id)
        params = {"org": self._scoped_org_id(), "now": now,
                  "numbers": [r.whatsapp_id for r in rows], "names": [r.name for r in rows],
                  "emails": [r.email for r in rows],
                  "tags": [_TAG_JOIN.join(r.tags) if r.tags is not None else None for r in rows],
                  "attributes": [json.dumps(r.attributes) if r.attributes is not None else None for r in rows]}
        result = (await self._s.execute(_IMPORT_UPSERT if mode is ImportMode.UPSERT else _IMPORT_CREATE, params)
                  ).one()
        if result.created < result.missing:  # another transaction created some of these numbers meanwhile
            raise TransactionConflict("Contacts of this batch were created meanwhile; the batch is tried again.")
        return BatchCounts(created=result.created, updated=result.updated,
                           unchanged=len(rows) - result.created - result.updated)

    def _scoped_org_id(self) -> UUID:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return self._org


_TAG_JOIN = "\x1f"  # never in a tag (domain.contacts: letters, digits, spaces and . : / - _)

# One statement per batch (data-modifying CTEs share one snapshot). ``fresh`` are the numbers the snapshot does not
# have: when fewer were inserted, a concurrent transaction created the rest (ON CONFLICT waited for it). The UPDATE
# computes the new values from the row it locks (``c``), so a concurrent edit is never overwritten with a stale
# value, and it touches only rows that change: unchanged ones keep their updated_at.
_IMPORT_INPUT = """
WITH input AS (
    SELECT i.whatsapp_id, i.name, i.email,
           CASE WHEN i.tags IS NULL THEN NULL ELSE string_to_array(i.tags, chr(31)) END AS tags,
           CAST(i.attributes AS jsonb) AS attributes
    FROM unnest(CAST(:numbers AS text[]), CAST(:names AS text[]), CAST(:emails AS text[]), CAST(:tags AS text[]),
                CAST(:attributes AS text[])) AS i(whatsapp_id, name, email, tags, attributes)
), fresh AS MATERIALIZED (
    SELECT i.* FROM input i
    WHERE NOT EXISTS (SELECT 1 FROM contacts c
                      WHERE c.organization_id = CAST(:org AS uuid) AND c.whatsapp_id = i.whatsapp_id)
), inserted AS (
    INSERT INTO contacts (id, organization_id, whatsapp_id, name, email, tags, attributes, opted_out, created_at,
                          updated_at)
    SELECT gen_random_uuid(), CAST(:org AS uuid), f.whatsapp_id, f.name, f.email, coalesce(f.tags, '{}'),
           coalesce(f.attributes, '{}'), false, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM fresh f
    ON CONFLICT (organization_id, whatsapp_id) DO NOTHING
    RETURNING 1
)"""
_COUNTS = "(SELECT count(*) FROM inserted) AS created, (SELECT count(*) FROM fresh) AS missing"
_IMPORT_CREATE = text(_IMPORT_INPUT + f"""
SELECT {_COUNTS}, 0 AS updated""")
_IMPORT_UPSERT = text(_IMPORT_INPUT + f""", updated AS (
    UPDATE contacts c SET name = coalesce(i.name, c.name), email = coalesce(i.email, c.email),
                          tags = coalesce(i.tags, c.tags), attributes = c.attributes || coalesce(i.attributes, '{{}}'),
                          updated_at = CAST(:now AS timestamptz)
    FROM input i
    WHERE c.organization_id = CAST(:org AS uuid) AND c.whatsapp_id = i.whatsapp_id
      AND (c.name IS DISTINCT FROM coalesce(i.name, c.name) OR c.email IS DISTINCT FROM coalesce(i.email, c.email)
           OR c.tags IS DISTINCT FROM coalesce(i.tags, c.tags)
           OR c.attributes IS DISTINCT FROM c.attributes || coalesce(i.attributes, '{{}}'))
    RETURNING 1
)
SELECT {_COUNTS}, (SELECT count(*) FROM updated) AS updated""")


# Merging contact ``source`` into ``target`` (same organization: both ids are checked against it). Everything that
# points at the source moves to the target; where the target already has the same row (a conversation on the same
# number, a recipient of the same automation, a running execution on the same number), the two are folded: the
# conversation keeps the latest times, the target's recipient stays and the source's running execution ends as
# ``failed`` (``contact_merged``) before it moves, so history is kept and the one-running rule holds.
_MERGE = [text(sql) for sql in (
    """UPDATE conversations t SET last_inbound_at = greatest(t.last_inbound_at, s.last_inbound_at),
                                  last_message_at = greatest(t.last_message_at, s.last_message_at),
                                  handoff_at = coalesce(t.handoff_at, s.handoff_at), updated_at = :now
       FROM conversations s
       WHERE s.organization_id = :org AND t.organization_id = :org AND s.contact_id = :source
         AND t.contact_id = :target AND s.number_id = t.number_id""",
    """DELETE FROM conversations s USING conversations t
       WHERE s.organization_id = :org AND t.organization_id = :org AND s.contact_id = :source
         AND t.contact_id = :target AND s.number_id = t.number_id""",
    "UPDATE conversations SET contact_id = :target WHERE organization_id = :org AND contact_id = :source",
    """UPDATE flow_executions s SET status = 'failed', fail_reason = 'contact_merged', finished_at = :now,
                                   updated_at = :now
       FROM flow_executions t
       WHERE s.organization_id = :org AND t.organization_id = :org AND s.contact_id = :source
         AND t.contact_id = :target AND s.number_id = t.number_id
         AND s.status IN ('running', 'waiting') AND t.status IN ('running', 'waiting')""",
    "UPDATE flow_executions SET contact_id = :target WHERE organization_id = :org AND contact_id = :source",
    """DELETE FROM automation_recipients s USING automation_recipients t
       WHERE s.organization_id = :org AND t.organization_id = :org AND s.contact_id = :source
         AND t.contact_id = :target AND s.automation_id = t.automation_id""",
    "UPDATE automation_recipients SET contact_id = :target WHERE organization_id = :org AND contact_id = :source",
    "UPDATE messages SET contact_id = :target WHERE organization_id = :org AND contact_id = :source",
    "DELETE FROM contacts WHERE organization_id = :org AND id = :source",
)]

_ADOPT = text("""
    UPDATE contacts c SET whatsapp_id = i.canonical, updated_at = CAST(:now AS timestamptz)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:old AS text[]), CAST(:new AS text[])) AS i(id, old, canonical)
    WHERE c.organization_id = CAST(:org AS uuid) AND c.id = i.id AND c.whatsapp_id = i.old
      AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.organization_id = CAST(:org AS uuid)
                                                 AND o.whatsapp_id = i.canonical)""")

_ADOPT_BSUIDS = text("""
    UPDATE contacts c SET bsuid = i.bsuid, updated_at = CAST(:now AS timestamptz)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:bsuids AS text[])) AS i(id, bsuid)
    WHERE c.organization_id = CAST(:org AS uuid) AND c.id = i.id AND c.bsuid IS NULL
      AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.organization_id = CAST(:org AS uuid) AND o.bsuid = i.bsuid)""")
