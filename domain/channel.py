"""The WhatsApp channel of an organization: its numbers, conversations and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.conversations import ConversationState
from domain.errors import Conflict, NotFound, RuleViolation
from domain.messaging import CustomerServiceWindow, MessageDirection, MessageStatus

RECEIVED = "received"  # status of inbound messages
ACCOUNT_BANNED = "banned"
ACCOUNT_RESTRICTED = "restricted"


class NumberStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    PENDING = "pending"


class WhatsAppNumberNotFound(NotFound):
    code = "whatsapp_number_not_found"
    default_message = "WhatsApp number not found."


class WhatsAppNumberAlreadyRegistered(Conflict):
    code = "whatsapp_number_already_registered"
    default_message = "This phone_number_id is already registered."


class NoActiveNumber(RuleViolation):
    code = "no_active_whatsapp_number"
    default_message = "The organization has no active WhatsApp number to send from."


class NumberNotActive(RuleViolation):
    code = "whatsapp_number_not_active"
    default_message = "This WhatsApp number is not active."


class WhatsAppAccountBanned(RuleViolation):
    code = "whatsapp_account_banned"
    default_message = ("Meta disabled this number's WhatsApp Business Account (account_update): nothing can be "
                       "sent from it until the account is reinstated.")


class OutsideCustomerServiceWindow(RuleViolation):
    code = "outside_customer_service_window"
    default_message = ("The contact has not written in the last 24 hours: only a template message can be sent "
                       "outside the customer service window.")


class MessageNotFound(NotFound):
    code = "message_not_found"
    default_message = "Message not found."


@dataclass(slots=True, kw_only=True)
class WhatsAppNumber:
    id: UUID
    organization_id: UUID
    phone_number_id: str
    waba_id: str | None
    phone_number: str
    display_name: str
    status: NumberStatus
    verified: bool
    access_token_secret_id: UUID
    quality_rating: str | None = None
    throughput_mps: int = 80
    last_error: str | None = None
    account_status: str | None = None  # the WABA's standing (account_update): None, "restricted" or "banned"
    account_status_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    send_pause_code: int | None = None
    """The circuit breaker: the Graph error that paused sending on this number (None: not paused)."""
    send_pause_reason: str | None = None
    send_paused_at: datetime | None = None
    send_paused_until: datetime | None = None
    """When sending resumes by itself; None with a code: when the access token is changed in the vault."""

    @property
    def banned(self) -> bool:
        return self.account_status == ACCOUNT_BANNED

    def ensure_can_send(self) -> None:
        if self.status is not NumberStatus.ACTIVE:
            raise NumberNotActive()
        if self.banned:
            raise WhatsAppAccountBanned()

    def sending_paused(self, now: datetime) -> bool:
        """The breaker is open: queued messages wait (they neither fail nor go out)."""
        return self.send_pause_code is not None and (self.send_paused_until is None or self.send_paused_until > now)

    def pause_sending(self, code: int | None, reason: str, now: datetime, until: datetime | None) -> None:
        """Open the breaker until ``until`` (None: until the access token changes); a later end wins."""
        if self.sending_paused(now) and until is not None and (
                self.send_paused_until is None or self.send_paused_until > until):
            return  # already paused longer (or until the token changes)
        self.send_pause_code, self.send_pause_reason = code if code is not None else 0, reason[:500]
        self.send_paused_at, self.send_paused_until = now, until


@dataclass(slots=True, kw_only=True)
class Conversation:
    id: UUID
    organization_id: UUID
    number_id: UUID
    contact_id: UUID
    last_inbound_at: datetime | None = None
    last_message_at: datetime | None = None
    handoff_at: datetime | None = None
    state: ConversationState = ConversationState.BOT
    assignee_id: UUID | None = None
    unread_count: int = 0
    last_read_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    def window_open(self, now: datetime) -> bool:
        return CustomerServiceWindow.is_open(self.last_inbound_at, now)

    def record_inbound(self, at: datetime) -> None:
        if self.last_inbound_at is None or at > self.last_inbound_at:
            self.last_inbound_at = at
        if self.last_message_at is None or at > self.last_message_at:
            self.last_message_at = at


@dataclass(slots=True, kw_only=True)
class Message:
    """One message, inbound (status ``received``) or outbound (``queued`` .. ``read`` / ``failed``)."""

    id: UUID
    organization_id: UUID
    number_id: UUID
    contact_id: UUID | None
    direction: MessageDirection
    type: str
    content: dict[str, Any] = field(default_factory=dict)
    status: str
    wamid: str | None = None
    source: str = "api"
    error_code: int | None = None
    error_title: str | None = None
    attempts: int = 0
    send_claimed_at: datetime | None = None
    next_attempt_at: datetime | None = None
    confirmed_at: datetime | None = None
    occurred_at: datetime
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    deleted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    @property
    def outbound_status(self) -> MessageStatus:
        return MessageStatus(self.status)

    def apply_status(self, incoming: MessageStatus, at: datetime, *, error_code: int | None = None,
                     error_title: str | None = None) -> bool:
        """Move the status forward only (``failed`` is terminal); True when it changed."""
        current = self.outbound_status
        new = current.advance(incoming)
        stamps = {MessageStatus.SENT: "sent_at", MessageStatus.DELIVERED: "delivered_at",
                  MessageStatus.READ: "read_at", MessageStatus.FAILED: "failed_at"}
        name = stamps.get(incoming)
        if name and getattr(self, name) is None and (incoming is not MessageStatus.FAILED or new is incoming):
            setattr(self, name, at)
        if new is MessageStatus.FAILED and current is not MessageStatus.FAILED:
            self.error_code, self.error_title = error_code, error_title
        if new is current:
            return False
        self.status = new.value
        self.updated_at = max(self.updated_at, at)
        return True
