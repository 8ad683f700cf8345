"""Inbox schemas: a conversation as the agents' inbox lists it, and the assign body."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from entrypoints.http.schemas.common import RequestModel, ResponseModel


class ConversationContactOut(ResponseModel):
    id: UUID
    name: str | None = None
    whatsapp_id: str


class ConversationNumberOut(ResponseModel):
    id: UUID
    phone_number: str = Field(description="The number as displayed (e.g. '+55 11 91234-5678')")
    display_name: str


class ConversationAssigneeOut(ResponseModel):
    id: UUID
    name: str | None = Field(default=None, description="None when the user is not visible in this organization")


class LastMessageOut(ResponseModel):
    type: str = Field(description="text, image, template, interactive, ...")
    text: str | None = Field(default=None, description="The text, caption or template name, when there is one")
    summary: str = Field(description="A one-line preview: the text, else the type in brackets (e.g. '[image]')")
    direction: Literal["inbound", "outbound"]
    occurred_at: datetime


class ConversationOut(ResponseModel):
    id: UUID
    contact: ConversationContactOut
    number: ConversationNumberOut
    last_message: LastMessageOut | None = Field(description="The newest message, inbound or outbound")
    unread_count: int = Field(description="Inbound messages since an agent last marked the conversation read")
    state: Literal["bot", "waiting", "assigned", "closed"] = Field(
        description="bot: flows answer; waiting: handed to a human, nobody took it; assigned: an agent answers; "
                    "closed: the agent finished (the bot answers again, the next inbound message makes it bot)")
    assignee: ConversationAssigneeOut | None = None
    window_expires_at: datetime | None = Field(
        description="When the 24-hour customer service window closes (last inbound + 24 h); null if the contact "
                    "never wrote")
    last_message_at: datetime | None = Field(default=None, description="Last activity (the list's order)")
    last_inbound_at: datetime | None = None
    last_read_at: datetime | None = None
    handoff_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class AssignIn(RequestModel):
    user_id: UUID | None = Field(description="Who answers the conversation; null lets go of it (back to waiting). "
                                             "Agents: themselves or null; admins: any active agent or admin")
