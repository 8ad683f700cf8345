"""The inbox list: conversations with their contact, number, assignee and last message, in one query.

The last message is a LATERAL subquery per row of the page (``messages_contact_idx`` reads one index entry for
each), so nothing on the webhook path has to keep a preview column current.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, func, literal, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.repositories.contacts import like_pattern
from adapters.postgres.tables import contacts, conversations, messages, users, whatsapp_numbers
from application.ports.conversations import ConversationFilter, ConversationSummary, LastMessage
from domain.channel import Conversation
from domain.conversations import ConversationState

c = conversations.c
_STATE = case((and_(c.state == "assigned", c.assignee_id.is_(None)), literal("waiting")), else_=c.state)
"""The state a row is read as (an ``assigned`` row whose user was deleted is ``waiting``)."""

_last = (select(messages.c.type.label("last_type"), messages.c.direction.label("last_direction"),
                messages.c.occurred_at.label("last_at"),
                func.coalesce(messages.c.content["text"].astext, messages.c.content["caption"].astext,
                              messages.c.content["template"]["name"].astext).label("last_text"))
         .where(messages.c.organization_id == c.organization_id, messages.c.contact_id == c.contact_id,
                messages.c.number_id == c.number_id)
         .order_by(messages.c.occurred_at.desc(), messages.c.id.desc()).limit(1).lateral("last_message"))


def _conditions(organization_id: UUID, where: ConversationFilter, conversation_id: UUID | None) -> list[Any]:
    conditions: list[Any] = [c.organization_id == organization_id]
    if conversation_id is not None:
        conditions.append(c.id == conversation_id)
    if where.state is not None:
        conditions.append(_STATE == where.state.value)
    if where.assignee_id is not None:
        conditions.append(c.assignee_id == where.assignee_id)
    if where.unassigned:
        conditions.append(c.assignee_id.is_(None))
    if where.number_id is not None:
        conditions.append(c.number_id == where.number_id)
    if where.query:
        conditions.append(contacts.c.search_text.like(like_pattern(where.query), escape="\\"))
    return conditions


async def conversation_list(session: AsyncSession, organization_id: UUID, where: ConversationFilter, *,
                            limit: int, offset: int, conversation_id: UUID | None = None
                            ) -> tuple[list[ConversationSummary], int]:
    conditions = _conditions(organization_id, where, conversation_id)
    joined = conversations.join(contacts, contacts.c.id == c.contact_id).join(
        whatsapp_numbers, whatsapp_numbers.c.id == c.number_id).outerjoin(
        users, users.c.id == c.assignee_id).outerjoin(_last, true())
    query = (select(*[col for col in conversations.c if col.name != "state"], _STATE.label("state"),
                    contacts.c.name.label("contact_name"), contacts.c.whatsapp_id.label("contact_whatsapp_id"),
                    whatsapp_numbers.c.phone_number.label("number_phone"),
                    whatsapp_numbers.c.display_name.label("number_display_name"),
                    users.c.name.label("assignee_name"), _last.c.last_type, _last.c.last_direction,
                    _last.c.last_at, _last.c.last_text)
             .select_from(joined).where(*conditions)
             .order_by(c.last_message_at.desc().nulls_last(), c.id.desc()).limit(limit).offset(offset))
    rows = (await session.execute(query)).all()
    if conversation_id is not None:
        total = len(rows)
    else:
        counted = conversations.join(contacts, contacts.c.id == c.contact_id) if where.query else conversations
        total = int((await session.execute(select(func.count()).select_from(counted).where(*conditions)))
                    .scalar_one())
    return [_summary(r) for r in rows], total


def _summary(row: Any) -> ConversationSummary:
    mapping = row._mapping  # a new RowMapping per access: taken once
    data = {col.name: mapping[col.name] for col in conversations.c}
    data["state"] = ConversationState(data["state"])
    last = None if row.last_at is None else LastMessage(type=row.last_type, text=row.last_text,
                                                        direction=row.last_direction, occurred_at=row.last_at)
    return ConversationSummary(conversation=Conversation(**data), contact_name=row.contact_name,
                               contact_whatsapp_id=row.contact_whatsapp_id, number_phone=row.number_phone,
                               number_display_name=row.number_display_name, assignee_name=row.assignee_name,
                               last_message=last)
