"""WhatsApp numbers, conversations and messages (organization-scoped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import DateTime, bindparam, case, func, insert, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import execute_translated
from adapters.postgres.repositories.conversation_list import conversation_list
from adapters.postgres.tables import conversations, message_status_events, messages, whatsapp_numbers
from application.ports.channel import (
    ConversationRepository,
    MessageRepository,
    StatusEvent,
    WhatsAppNumberRepository,
)
from application.ports.conversations import ConversationFilter, ConversationSummary, MessageCursor
from domain.channel import Conversation, Message, NumberStatus, WhatsAppNumber
from domain.conversations import ConversationState
from domain.messaging import CUSTOMER_SERVICE_WINDOW, MessageDirection


def _require(org: UUID | None) -> UUID:
    if org is None:
        raise RuntimeError("organization-scoped repository used in system scope")
    return org


def _number(row: Any) -> WhatsAppNumber:
    data = dict(row._mapping)
    data["status"] = NumberStatus(data["status"])
    return WhatsAppNumber(**data)


def _number_values(number: WhatsAppNumber) -> dict[str, Any]:
    return {c.name: getattr(number, c.name) if c.name != "status" else number.status.value
            for c in whatsapp_numbers.c}


class SqlAlchemyWhatsAppNumberRepository(WhatsAppNumberRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    async def add(self, number: WhatsAppNumber) -> None:
        await self._write(insert(whatsapp_numbers).values(**_number_values(number)))

    async def _write(self, statement: Any) -> None:
        """In a savepoint: a clash on a phone_number_id leaves the transaction usable."""
        await execute_translated(self._s, statement)

    async def get(self, number_id: UUID) -> WhatsAppNumber | None:
        row = (await self._s.execute(select(whatsapp_numbers).where(
            whatsapp_numbers.c.id == number_id, whatsapp_numbers.c.organization_id == _require(self._org)))).first()
        return _number(row) if row else None

    async def update(self, number: WhatsAppNumber) -> None:
        values = _number_values(number)
        values.pop("id"), values.pop("organization_id"), values.pop("created_at")
        await self._write(update(whatsapp_numbers).where(
            whatsapp_numbers.c.id == number.id, whatsapp_numbers.c.organization_id == number.organization_id)
            .values(**values))

    async def list(self, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]:
        scope = whatsapp_numbers.c.organization_id == _require(self._org)
        rows = (await self._s.execute(select(whatsapp_numbers).where(scope).order_by(
            whatsapp_numbers.c.created_at, whatsapp_numbers.c.id).limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(whatsapp_numbers.c.id).where(scope),
                                          key=("numbers", self._org))
        return [_number(r) for r in rows], total

    async def default_active(self) -> WhatsAppNumber | None:
        row = (await self._s.execute(select(whatsapp_numbers).where(
            whatsapp_numbers.c.organization_id == _require(self._org), whatsapp_numbers.c.status == "active")
            .order_by(whatsapp_numbers.c.created_at, whatsapp_numbers.c.id).limit(1))).first()
        return _number(row) if row else None

    async def get_by_phone_number_id_any_org(self, phone_number_id: str) -> WhatsAppNumber | None:
        row = (await self._s.execute(select(whatsapp_numbers).where(  # proven only: the partial unique index
            whatsapp_numbers.c.phone_number_id == phone_number_id, whatsapp_numbers.c.status == "active"))).first()
        return _number(row) if row else None

    async def routable_by_waba_ids(self, waba_ids: Sequence[str]) -> dict[str, Sequence[WhatsAppNumber]]:
        if not waba_ids:
            return {}
        rows = (await self._s.execute(select(whatsapp_numbers).where(
            whatsapp_numbers.c.waba_id.in_(list(waba_ids)), whatsapp_numbers.c.status == "active")
            .order_by(whatsapp_numbers.c.waba_id, whatsapp_numbers.c.id))).all()
        return {waba: [_number(r) for r in group] for waba, group in groupby(rows, key=lambda r: r.waba_id)}

    async def routable_by_phone_number_ids(self, phone_number_ids: Sequence[str]) -> dict[str, WhatsAppNumber]:
        if not phone_number_ids:
            return {}
        rows = (await self._s.execute(select(whatsapp_numbers).where(  # proven only, as above
            whatsapp_numbers.c.phone_number_id.in_(list(phone_number_ids)), whatsapp_numbers.c.status == "active"))
            ).all()
        return {row.phone_number_id: _number(row) for row in rows}

    async def syncable_any_org(self) -> Sequence[WhatsAppNumber]:
        rows = (await self._s.execute(select(whatsapp_numbers).where(
            whatsapp_numbers.c.status == "active", whatsapp_numbers.c.waba_id.is_not(None)).order_by(
            whatsapp_numbers.c.organization_id, whatsapp_numbers.c.waba_id, whatsapp_numbers.c.created_at))).all()
        return [_number(row) for row in rows]

    async def supersede_unproven_any_org(self, phone_number_id: str, *, owner_organization_id: UUID, reason: str,
                                         now: datetime) -> None:
        await self._s.execute(update(whatsapp_numbers).where(
            whatsapp_numbers.c.phone_number_id == phone_number_id,
            whatsapp_numbers.c.organization_id != owner_organization_id, whatsapp_numbers.c.status != "active")
            .values(status="inactive", last_error=reason, updated_at=now))


    async def save_send_pause(self, number: WhatsAppNumber) -> None:
        await self._s.execute(update(whatsapp_numbers).where(
            whatsapp_numbers.c.id == number.id, whatsapp_numbers.c.organization_id == _require(self._org))
            .values(send_pause_code=number.send_pause_code, send_pause_reason=number.send_pause_reason,
                    send_paused_at=number.send_paused_at, send_paused_until=number.send_paused_until))

    async def clear_token_pauses(self, secret_id: UUID) -> Sequence[WhatsAppNumber]:
        rows = (await self._s.execute(update(whatsapp_numbers).where(
            whatsapp_numbers.c.organization_id == _require(self._org),
            whatsapp_numbers.c.access_token_secret_id == secret_id,
            whatsapp_numbers.c.send_pause_code.is_not(None), whatsapp_numbers.c.send_paused_until.is_(None))
            .values(send_pause_code=None, send_pause_reason=None, send_paused_at=None)
            .returning(*whatsapp_numbers.c))).all()
        return [_number(row) for row in rows]


def _conversation(row: Any) -> Conversation:
    mapping = row._mapping  # a new RowMapping per access: taken once
    data = {c.name: mapping[c.name] for c in conversations.c}
    data["state"] = ConversationState(data["state"])
    if data["state"] is ConversationState.ASSIGNED and data["assignee_id"] is None:  # the user was deleted
        data["state"] = ConversationState.WAITING
    return Conversation(**data)


class SqlAlchemyConversationRepository(ConversationRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None) -> None:
        self._s, self._org = session, organization_id

    async def get(self, number_id: UUID, contact_id: UUID) -> Conversation | None:
        row = (await self._s.execute(select(conversations).where(
            conversations.c.organization_id == _require(self._org), conversations.c.number_id == number_id,
            conversations.c.contact_id == contact_id))).first()
        return _conversation(row) if row else None

    async def get_by_id(self, conversation_id: UUID, *, for_update: bool = False) -> Conversation | None:
        query = select(conversations).where(conversations.c.organization_id == _require(self._org),
                                            conversations.c.id == conversation_id)
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return _conversation(row) if row else None

    async def of_contact(self, contact_id: UUID, *, for_update: bool = False) -> list[Conversation]:
        query = select(conversations).where(conversations.c.organization_id == _require(self._org),
                                            conversations.c.contact_id == contact_id).order_by(conversations.c.id)
        rows = (await self._s.execute(query.with_for_update() if for_update else query)).all()
        return [_conversation(r) for r in rows]

    async def list(self, where: ConversationFilter, *, limit: int, offset: int
                   ) -> tuple[list[ConversationSummary], int]:
        return await conversation_list(self._s, _require(self._org), where, limit=limit, offset=offset)

    async def summary(self, conversation_id: UUID) -> ConversationSummary | None:
        found, _ = await conversation_list(self._s, _require(self._org), ConversationFilter(), limit=1, offset=0,
                                           conversation_id=conversation_id)
        return found[0] if found else None

    async def get_or_create_locked(self, number_id: UUID, contact_id: UUID, now: datetime) -> Conversation:
        org = _require(self._org)
        await self._s.execute(pg_insert(conversations).values(
            id=uuid4(), organization_id=org, number_id=number_id, contact_id=contact_id, state="bot",
            unread_count=0, created_at=now, updated_at=now).on_conflict_do_nothing(
            constraint="conversations_number_contact_key"))
        row = (await self._s.execute(select(conversations).where(
            conversations.c.organization_id == org, conversations.c.number_id == number_id,
            conversations.c.contact_id == contact_id).with_for_update())).one()
        return _conversation(row)

    async def record_inbound_many(self, inbound: Sequence[tuple[UUID, UUID, datetime, int]], now: datetime
                                  ) -> dict[tuple[UUID, UUID], Conversation]:
        org = _require(self._org)
        rows = [{"id": uuid4(), "organization_id": org, "number_id": number_id, "contact_id": contact_id,
                 "last_inbound_at": at, "last_message_at": at, "state": "bot", "unread_count": count,
                 "created_at": now, "updated_at": now}
                for number_id, contact_id, at, count in sorted(inbound)]
        insert_ = pg_insert(conversations)
        current = conversations.c
        statement = insert_.on_conflict_do_update(constraint="conversations_number_contact_key", set_={
            # domain.conversations.receive for many rows: times only move forward, unread grows, closed -> bot
            "last_inbound_at": func.greatest(current.last_inbound_at, insert_.excluded.last_inbound_at),
            "last_message_at": func.greatest(current.last_message_at, insert_.excluded.last_message_at),
            "unread_count": current.unread_count + insert_.excluded.unread_count,
            "state": case((current.state == "closed", "bot"), else_=current.state),
            "updated_at": func.greatest(current.updated_at, insert_.excluded.updated_at)}).returning(*conversations.c)
        result = (await self._s.execute(statement, rows)).all()
        return {(row.number_id, row.contact_id): _conversation(row) for row in result}

    async def open_windows(self, number_id: UUID, contact_ids: Sequence[UUID], now: datetime) -> set[UUID]:
        opened: set[UUID] = set()
        for start in range(0, len(contact_ids), 2000):
            rows = (await self._s.execute(select(conversations.c.contact_id).where(
                conversations.c.organization_id == _require(self._org), conversations.c.number_id == number_id,
                conversations.c.contact_id.in_(list(contact_ids[start:start + 2000])),
                conversations.c.last_inbound_at > now - CUSTOMER_SERVICE_WINDOW))).all()
            opened.update(r.contact_id for r in rows)
        return opened

    async def update(self, conversation: Conversation) -> None:
        await self._s.execute(update(conversations).where(
            conversations.c.id == conversation.id, conversations.c.organization_id == _require(self._org)).values(
            last_inbound_at=conversation.last_inbound_at, last_message_at=conversation.last_message_at,
            handoff_at=conversation.handoff_at, state=conversation.state.value,
            assignee_id=conversation.assignee_id, unread_count=conversation.unread_count,
            last_read_at=conversation.last_read_at, updated_at=conversation.updated_at))


_MESSAGE_COLUMNS = [c.name for c in messages.c if c.name != "seq"]  # seq is the database's own


def message_from_row(row: Any) -> Message:
    mapping = row._mapping  # a new RowMapping per access: taken once
    data = {name: mapping[name] for name in _MESSAGE_COLUMNS}
    data["direction"] = MessageDirection(data["direction"])
    return Message(**data)


_DELIVERY_STATE = ("status", "wamid", "error_code", "error_title", "attempts", "send_claimed_at", "next_attempt_at",
                   "confirmed_at", "sent_at", "delivered_at", "read_at", "failed_at", "updated_at")
"""What sending and status webhooks change on a message (``update_many`` writes these only)."""


def _message_values(message: Message) -> dict[str, Any]:
    return {name: getattr(message, name) if name != "direction" else message.direction.value
            for name in _MESSAGE_COLUMNS}


class SqlAlchemyMessageRepository(MessageRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._s, self._org = session, organization_id

    async def add(self, message: Message) -> None:
        await self._s.execute(insert(messages).values(**_message_values(message)))

    async def add_many(self, new_messages: Sequence[Message]) -> None:
        if new_messages:  # one multi-row INSERT: rows get their seq in this order
            await self._s.execute(insert(messages), [_message_values(m) for m in new_messages])

    async def add_inbound_if_new(self, message: Message) -> bool:
        result = await self._s.execute(pg_insert(messages).values(**_message_values(message)).on_conflict_do_nothing(
            index_elements=["wamid"], index_where=text("wamid IS NOT NULL")).returning(messages.c.id))
        return result.first() is not None

    async def add_inbound_many(self, new_messages: Sequence[Message]) -> set[UUID]:
        org = _require(self._org)
        rows = [_message_values(m) for m in new_messages if m.organization_id == org]
        if not rows:
            return set()
        statement = pg_insert(messages).on_conflict_do_nothing(
            index_elements=["wamid"], index_where=text("wamid IS NOT NULL")).returning(messages.c.id)
        result = (await self._s.execute(statement, rows)).all()
        return {row.id for row in result}

    async def get_many(self, message_ids: Sequence[UUID], *, for_update: bool = False) -> dict[UUID, Message]:
        return {m.id: m for m in await self._many(messages.c.id.in_(list(message_ids)), for_update)}

    async def get_many_by_wamids(self, wamids: Sequence[str], *, for_update: bool = False) -> dict[str, Message]:
        return {str(m.wamid): m for m in await self._many(messages.c.wamid.in_(list(wamids)), for_update)}

    async def _many(self, condition: Any, for_update: bool) -> list[Message]:
        query = select(messages).where(condition, messages.c.organization_id == _require(self._org))
        if for_update:
            query = query.order_by(messages.c.id).with_for_update()
        return [message_from_row(row) for row in (await self._s.execute(query)).all()]

    async def update_many(self, changed: Sequence[Message]) -> None:
        if not changed:
            return
        org = _require(self._org)
        await self._s.execute(update(messages).where(
            messages.c.id == bindparam("_id"), messages.c.organization_id == org).values(
            {name: bindparam(f"_{name}") for name in _DELIVERY_STATE}),
            [{"_id": m.id, **{f"_{name}": getattr(m, name) for name in _DELIVERY_STATE}} for m in changed])

    async def update_contents(self, changed: Sequence[Message]) -> None:
        if not changed:
            return
        await self._s.execute(update(messages).where(
            messages.c.id == bindparam("_id"), messages.c.organization_id == _require(self._org)).values(
            content=bindparam("_content"), deleted_at=bindparam("_deleted_at"), updated_at=bindparam("_updated_at")),
            [{"_id": m.id, "_content": m.content, "_deleted_at": m.deleted_at, "_updated_at": m.updated_at}
             for m in changed])

    async def record_status_events(self, events: Sequence[tuple[Message, StatusEvent]]) -> set[tuple[UUID, str]]:
        rows = [{"organization_id": m.organization_id, "message_id": m.id, "status": e.status,
                 "occurred_at": e.occurred_at, "error_code": e.error_code, "error_title": e.error_title}
                for m, e in events]
        if not rows:
            return set()
        statement = pg_insert(message_status_events).values(created_at=func.now()).on_conflict_do_nothing(
            constraint="message_status_events_once").returning(message_status_events.c.message_id,
                                                               message_status_events.c.status)
        result = (await self._s.execute(statement, rows)).all()
        return {(row.message_id, row.status) for row in result}

    async def _one(self, condition: Any, for_update: bool) -> Message | None:
        query = select(messages).where(condition, messages.c.organization_id == _require(self._org))
        row = (await self._s.execute(query.with_for_update() if for_update else query)).first()
        return message_from_row(row) if row else None

    async def get(self, message_id: UUID, *, for_update: bool = False) -> Message | None:
        return await self._one(messages.c.id == message_id, for_update)

    async def get_by_wamid(self, wamid: str, *, for_update: bool = False) -> Message | None:
        return await self._one(messages.c.wamid == wamid, for_update)

    async def update(self, message: Message) -> None:
        values = _message_values(message)
        for key in ("id", "organization_id", "created_at", "direction"):
            values.pop(key)
        scope = (messages.c.id == message.id, messages.c.organization_id == _require(self._org))
        await self._s.execute(update(messages).where(*scope).values(**values))

    async def record_status_event(self, message: Message, event: StatusEvent) -> bool:
        result = await self._s.execute(pg_insert(message_status_events).values(
            organization_id=message.organization_id, message_id=message.id, status=event.status,
            occurred_at=event.occurred_at, error_code=event.error_code, error_title=event.error_title,
            created_at=func.now()).on_conflict_do_nothing(constraint="message_status_events_once")
            .returning(message_status_events.c.id))
        return result.first() is not None

    async def status_history(self, message_id: UUID) -> list[StatusEvent]:
        rows = (await self._s.execute(select(message_status_events).where(
            message_status_events.c.message_id == message_id,
            message_status_events.c.organization_id == _require(self._org))
            .order_by(message_status_events.c.occurred_at, message_status_events.c.id))).all()
        return [StatusEvent(status=r.status, occurred_at=r.occurred_at, error_code=r.error_code,
                            error_title=r.error_title) for r in rows]

    async def first_outbound_since(self, contact_id: UUID, number_id: UUID, since: datetime) -> Message | None:
        row = (await self._s.execute(select(messages).where(
            messages.c.organization_id == _require(self._org), messages.c.contact_id == contact_id,
            messages.c.number_id == number_id, messages.c.direction == "outbound", messages.c.created_at >= since)
            .order_by(messages.c.created_at, messages.c.id).limit(1))).first()
        return message_from_row(row) if row else None

    async def list_for_contact(self, contact_id: UUID, *, limit: int, offset: int) -> tuple[list[Message], int]:
        scope = (messages.c.organization_id == _require(self._org), messages.c.contact_id == contact_id)
        rows = (await self._s.execute(select(messages).where(*scope).order_by(
            messages.c.occurred_at.desc(), messages.c.id.desc()).limit(limit).offset(offset))).all()
        total = await self._counter.total(self._s, select(messages.c.id).where(*scope),
                                          key=("messages", self._org, contact_id))
        return [message_from_row(r) for r in rows], total

    async def thread(self, number_id: UUID, contact_id: UUID, *, before: MessageCursor | None,
                     limit: int) -> list[Message]:
        conditions = [messages.c.organization_id == _require(self._org), messages.c.contact_id == contact_id,
                      messages.c.number_id == number_id]
        if before is not None:  # messages_contact_idx: (organization_id, contact_id, occurred_at DESC, id DESC)
            conditions.append(tuple_(messages.c.occurred_at, messages.c.id) < tuple_(
                literal(before[0], DateTime(timezone=True)), literal(before[1], PG_UUID(as_uuid=True))))
        rows = (await self._s.execute(select(messages).where(*conditions).order_by(
            messages.c.occurred_at.desc(), messages.c.id.desc()).limit(limit))).all()
        return [message_from_row(r) for r in rows]
