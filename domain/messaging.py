"""WhatsApp messaging: message status lattice, the 24-hour window and the events webhooks carry.

Standard library only. The webhook adapter turns Meta's JSON into the events below; use cases
apply them (store inbound messages idempotently by ``wamid``, move statuses forward only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from domain.errors import InvalidValue

CUSTOMER_SERVICE_WINDOW = timedelta(hours=24)


class MessageStatus(StrEnum):
    """Status of one of our messages.

    A total order ``queued < sent < delivered < read < failed`` where ``failed`` is terminal, so the
    status after a set of webhooks is their maximum whatever order Meta delivers them in.
    """

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_terminal(self) -> bool:
        return self is MessageStatus.FAILED

    def advance(self, incoming: MessageStatus) -> MessageStatus:
        """The status after ``incoming`` is applied: never backwards, ``failed`` never left."""
        return incoming if incoming.rank > self.rank else self

    @classmethod
    def from_webhook(cls, raw: str) -> MessageStatus | None:
        """Map a status webhook value; ``played`` (a voice message was heard) counts as ``read``.

        Unknown values give None: the caller ignores them.
        """
        if raw == "played":
            return cls.READ
        if raw == cls.QUEUED:
            return None
        try:
            return cls(raw)
        except ValueError:
            return None


_RANK: dict[MessageStatus, int] = {status: index for index, status in enumerate(MessageStatus)}


def next_status(current: MessageStatus, incoming: MessageStatus) -> MessageStatus:
    """Function form of :meth:`MessageStatus.advance`."""
    return current.advance(incoming)


class MessageDirection(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    SYSTEM = "system"  # a notice Meta reports in the conversation (number changed...): not the user's words


class InboundMessageType(StrEnum):
    """``messages[].type`` values we know; anything else is parsed as ``unsupported``."""

    TEXT = "text"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    EDIT = "edit"
    REVOKE = "revoke"
    ORDER = "order"
    SYSTEM = "system"
    REQUEST_WELCOME = "request_welcome"
    UNSUPPORTED = "unsupported"


ANNOTATION_TYPES: frozenset[InboundMessageType] = frozenset(
    {InboundMessageType.REACTION, InboundMessageType.EDIT, InboundMessageType.REVOKE}
)
"""Types that change an earlier message (``target_wamid``) instead of being a message of their own: they are
never stored as a new message, never answer a flow, never open the customer service window."""

MEDIA_TYPES: frozenset[InboundMessageType] = frozenset(
    {
        InboundMessageType.IMAGE,
        InboundMessageType.AUDIO,
        InboundMessageType.VIDEO,
        InboundMessageType.DOCUMENT,
        InboundMessageType.STICKER,
    }
)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidValue(f"{name} must be timezone-aware.")


class CustomerServiceWindow:
    """The 24-hour customer service window opened (and refreshed) by each inbound message."""

    duration = CUSTOMER_SERVICE_WINDOW

    @staticmethod
    def closes_at(last_inbound_at: datetime | None) -> datetime | None:
        if last_inbound_at is None:
            return None
        _require_aware(last_inbound_at, "last_inbound_at")
        return last_inbound_at + CUSTOMER_SERVICE_WINDOW

    @staticmethod
    def is_open(last_inbound_at: datetime | None, now: datetime) -> bool:
        """True while less than 24 hours have passed since the contact last wrote.

        A ``last_inbound_at`` slightly in the future (clock skew) counts as open.
        """
        _require_aware(now, "now")
        closes = CustomerServiceWindow.closes_at(last_inbound_at)
        return closes is not None and now < closes


class ErrorDetail(NamedTuple):
    """One ``errors[]`` entry of a webhook: Graph code, title and ``error_data.details``.

    ``pauses_number_seconds``: the error means Meta paused the sending number for about this long."""

    code: int
    title: str
    details: str | None = None
    pauses_number_seconds: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboundMessage:
    """A message a WhatsApp user sent to one of our numbers.

    ``text`` is the text body, the title of a button/list reply, a template quick-reply button's
    text, or a media caption. ``reply_id`` is ``button_reply.id``, ``list_reply.id`` or
    ``button.payload``. A username user may have no ``from_wa_id``; ``from_user_id`` is the BSUID.

    ``details`` is what else the message carries, JSON-ready (location, shared contacts, order, referral,
    media metadata, the list reply's description, a Flow's ``response_json``...): it is stored in the
    message's content as it is. ``target_wamid`` is the message a reaction, edit or revoke is about; an
    edit's new content is in ``text`` and ``details``.
    """

    phone_number_id: str
    display_phone_number: str | None
    wamid: str
    from_wa_id: str | None
    from_user_id: str | None
    profile_name: str | None
    timestamp: datetime
    type: InboundMessageType
    text: str | None = None
    reply_id: str | None = None
    media_id: str | None = None
    media_mime_type: str | None = None
    context_wamid: str | None = None
    target_wamid: str | None = None
    forwarded: bool = False
    frequently_forwarded: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[ErrorDetail, ...] = ()

    @property
    def is_annotation(self) -> bool:
        """A reaction, edit or revoke: it changes ``target_wamid`` rather than being a message."""
        return self.type in ANNOTATION_TYPES

    @property
    def sender(self) -> str | None:
        """The phone-number id when known, else the BSUID."""
        return self.from_wa_id or self.from_user_id


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """A delivery status of one of our messages. ``status`` is Meta's raw value."""

    phone_number_id: str
    wamid: str
    status: str
    timestamp: datetime
    recipient_wa_id: str | None = None
    recipient_user_id: str | None = None
    biz_opaque_callback_data: str | None = None
    errors: tuple[ErrorDetail, ...] = ()

    @property
    def message_status(self) -> MessageStatus | None:
        """The status to apply with :meth:`MessageStatus.advance`, or None for unknown values."""
        return MessageStatus.from_webhook(self.status)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookError:
    """A value-level error (system, app or account problem) reported for a number."""

    phone_number_id: str
    code: int
    title: str
    details: str | None = None


class SystemKind(StrEnum):
    """``system.type`` of a ``type: system`` message: a notice about the user, never the user's words."""

    USER_CHANGED_NUMBER = "user_changed_number"  # ``system.wa_id`` is the new number (older name: customer_...)
    USER_CHANGED_USER_ID = "user_changed_user_id"  # the BSUID changed (``system.user_id``); no ``from``
    CUSTOMER_IDENTITY_CHANGED = "customer_identity_changed"  # the user's identity key changed (reinstall...)
    OTHER = "other"


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityChange:
    """A ``type: system`` message: who the notice is about (``from_wa_id`` / ``from_user_id`` /
    ``previous_user_id``) and the identity it reports now (``new_wa_id``, ``new_user_id``)."""

    phone_number_id: str
    wamid: str
    timestamp: datetime
    kind: SystemKind
    raw_kind: str | None
    from_wa_id: str | None = None
    from_user_id: str | None = None
    previous_user_id: str | None = None
    new_wa_id: str | None = None
    new_user_id: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UserPreference:
    """``user_preferences``: a user stopped (``stop``) or resumed (``resume``) marketing messages."""

    phone_number_id: str
    wa_id: str | None
    user_id: str | None
    category: str
    value: str
    timestamp: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountUpdate:
    """``account_update`` about a WABA (routed by ``waba_id``: it names no phone number).

    ``standing`` is what it means for sending: ``banned`` (DISABLED_UPDATE with ban state DISABLE),
    ``restricted`` (ACCOUNT_RESTRICTION), ``reinstated`` (ban state REINSTATE), or None (anything else: kept on the
    webhook, nothing changes)."""

    waba_id: str
    event: str
    standing: str | None
    detail: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NumberQualityUpdate:
    """``phone_number_quality_update``: a number (named by its display number inside the WABA) changed
    throughput level (``THROUGHPUT_UPGRADE``: 1,000 messages/s) or quality (``FLAGGED`` / ``UNFLAGGED``...)."""

    waba_id: str
    display_phone_number: str
    event: str
    current_limit: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class IgnoredChange:
    """A webhook ``field`` this backend does not apply: counted as ``ignored`` on its stored webhook (the raw
    body stays in the inbox), never dropped silently."""

    field: str
    waba_id: str | None


AccountEvent = AccountUpdate | NumberQualityUpdate
"""Events about a WABA or one of its numbers, routed by the WABA id."""
NumberEvent = InboundMessage | StatusUpdate | WebhookError | IdentityChange | UserPreference
"""Events routed by the ``phone_number_id`` they carry."""
WebhookEvent = (InboundMessage | StatusUpdate | WebhookError | IdentityChange | UserPreference | AccountUpdate
                | NumberQualityUpdate | IgnoredChange)
