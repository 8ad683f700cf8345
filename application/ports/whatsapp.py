"""Port to the WhatsApp Cloud API (Graph API) and its typed errors.

Every method takes the sending number's ``phone_number_id`` and its ``access_token`` first; the
caller resolves the token from the vault on every use and the gateway never stores or logs it.
Errors carry their meaning only (retryable, may have been sent, when to retry, pause the number, token
invalid); which of Meta's codes means what lives in the adapter (``adapters/whatsapp/errors.py``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from domain.errors import DomainError, RuleViolation, Unavailable

MediaKind = Literal["image", "document", "video", "audio", "sticker"]
HeaderKind = Literal["image", "video", "document"]

@dataclass(frozen=True, slots=True)
class SentMessage:
    """Meta accepted the send (not yet delivered). ``wa_id`` is None when sent to a BSUID."""

    wamid: str
    wa_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneNumberDetails:
    id: str
    display_phone_number: str
    verified_name: str | None = None
    quality_rating: str | None = None
    code_verification_status: str | None = None
    status: str | None = None
    throughput_level: str | None = None


@dataclass(frozen=True, slots=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ListSection:
    title: str | None
    rows: tuple[ListRow, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class MediaHeader:
    """An interactive message's media header: uploaded media by ``media_id`` or a hosted file by ``link``."""

    kind: HeaderKind
    media_id: str | None = None
    link: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Location:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class WhatsAppGateway(Protocol):
    """Sends through one business number. ``to`` is a WhatsApp id (digits, ``+`` optional) or a BSUID.

    ``reply_to`` quotes an earlier message (its wamid); ``tracking`` is echoed back as
    ``biz_opaque_callback_data`` in status webhooks (we put our own message id there).
    Every method raises a :class:`GraphApiError` subclass on failure.
    """

    @abstractmethod
    async def send_text(
        self,
        phone_number_id: str,
        access_token: str,
        to: str,
        body: str,
        preview_url: bool = False,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage: ...

    @abstractmethod
    async def send_template(
        self,
        phone_number_id: str,
        access_token: str,
        to: str,
        name: str,
        language: str,
        components: Sequence[Mapping[str, Any]] = (),
        *,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage:
        """``components`` are passed as Meta's JSON (``[{"type": "body", "parameters": [...]}]``)."""

    @abstractmethod
    async def send_buttons(
        self,
        phone_number_id: str,
        access_token: str,
        to: str,
        body: str,
        buttons: Sequence[tuple[str, str]],
        header: str | MediaHeader | None = None,
        footer: str | None = None,
        *,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage:
        """Reply buttons given as ``(id, title)`` pairs; ``header`` is a text header or a media header."""

    @abstractmethod
    async def send_list(
        self,
        phone_number_id: str,
        access_token: str,
        to: str,
        body: str,
        button: str,
        sections: Sequence[ListSection],
        header: str | None = None,
        footer: str | None = None,
        *,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage: ...

    @abstractmethod
    async def send_media(
        self,
        phone_number_id: str,
        access_token: str,
        to: str,
        kind: MediaKind,
        link: str | None,
        caption: str | None = None,
        filename: str | None = None,
        *,
        media_id: str | None = None,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage:
        """Media by uploaded ``media_id`` or by hosted ``link`` (exactly one); ``caption`` is ignored for audio and
        stickers, ``filename`` applies to documents."""

    @abstractmethod
    async def send_reaction(self, phone_number_id: str, access_token: str, to: str, message_wamid: str, emoji: str,
                            *, tracking: str | None = None) -> SentMessage:
        """React to a message of the conversation (an empty ``emoji`` removes the reaction)."""

    @abstractmethod
    async def send_location(self, phone_number_id: str, access_token: str, to: str, location: Location, *,
                            reply_to: str | None = None, tracking: str | None = None) -> SentMessage: ...

    @abstractmethod
    async def send_contacts(self, phone_number_id: str, access_token: str, to: str,
                            contacts: Sequence[Mapping[str, Any]], *, reply_to: str | None = None,
                            tracking: str | None = None) -> SentMessage:
        """Contact cards in Meta's JSON (``[{"name": {"formatted_name": ...}, "phones": [...]}]``)."""

    @abstractmethod
    async def mark_read(self, phone_number_id: str, access_token: str, message_wamid: str,
                        typing: bool = False) -> None:
        """Mark an inbound message (and the earlier ones) read; ``typing`` also shows the typing indicator."""

    @abstractmethod
    async def upload_media(self, phone_number_id: str, access_token: str, content: bytes, mime_type: str,
                           filename: str) -> str:
        """Upload a file to Meta for this number; its media id (usable in sends for 30 days)."""

    @abstractmethod
    async def get_phone_number(self, phone_number_id: str, access_token: str) -> PhoneNumberDetails:
        """Checks the token can see the number (the "test connection" call)."""


# --- typed errors --------------------------------------------------------------------------------

MAX_BACKOFF_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Wait before retry number ``attempt + 1``: ``first * factor ** attempt`` seconds, at most ``cap``."""

    first: float = 2.0
    factor: float = 2.0
    cap: float = MAX_BACKOFF_SECONDS

    def seconds(self, attempt: int) -> float:
        step = min(max(attempt, 0), 64)
        return float(min(self.first * self.factor ** step, self.cap))


class GraphApiError(DomainError):
    """A Graph API call failed. ``graph_code`` is Meta's ``error.code`` (None: no JSON answer).

    ``may_have_been_sent`` is True when the request may have reached Meta (read timeout, 5xx, an
    unreadable 2xx): the worker reconciles through the status webhook's ``biz_opaque_callback_data``
    instead of trusting that nothing was sent. ``pause_number_seconds``: the sending number itself is
    paused by Meta (spam rate limit, policy block) for about this long: stop sending on it, keep the
    messages. ``token_invalid``: the access token is expired or revoked: nothing sends until it changes.
    """

    code: ClassVar[str] = "whatsapp_api_error"
    default_message = "The WhatsApp Cloud API refused the request."
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str | None = None,
        *,
        graph_code: int | None = None,
        http_status: int | None = None,
        title: str | None = None,
        error_details: str | None = None,
        error_subcode: int | None = None,
        fbtrace_id: str | None = None,
        may_have_been_sent: bool = False,
        backoff: Backoff | None = None,
        pause_number_seconds: float | None = None,
        token_invalid: bool = False,
    ) -> None:
        super().__init__(
            message,
            details=[{"graph_code": graph_code, "http_status": http_status, "title": title,
                      "details": error_details, "fbtrace_id": fbtrace_id}],
        )
        self.graph_code = graph_code
        self.http_status = http_status
        self.title = title
        self.error_details = error_details
        self.error_subcode = error_subcode
        self.fbtrace_id = fbtrace_id
        self.may_have_been_sent = may_have_been_sent
        self.backoff = backoff or Backoff()
        self.pause_number_seconds = pause_number_seconds
        self.token_invalid = token_invalid
        self.retry_after_seconds: float | None = self.backoff_seconds(0)

    def backoff_seconds(self, attempt: int) -> float | None:
        """Suggested wait before retry number ``attempt + 1`` (None: do not retry). Add jitter."""
        return self.backoff.seconds(attempt) if self.retryable else None


class GraphRateLimited(GraphApiError, Unavailable):
    """Throughput, pair rate, app or account call limits: retry later."""

    code = "whatsapp_rate_limited"
    default_message = "The WhatsApp Cloud API rate limit was reached."
    retryable = True


class GraphTransientError(GraphApiError, Unavailable):
    """Meta-side trouble, maintenance, 5xx without JSON, timeouts and network errors. Retry later."""

    code = "whatsapp_unavailable"
    default_message = "The WhatsApp Cloud API is temporarily unavailable."
    retryable = True


class GraphNumberPaused(GraphApiError, Unavailable):
    """Meta stopped the number from sending for a while (spam rate limit, policy block): every message from
    it waits ``pause_number_seconds``, none fails for it."""

    code = "whatsapp_number_paused"
    default_message = "WhatsApp paused sending on this number for a while."
    retryable = True


class GraphAuthError(GraphApiError, RuleViolation):
    """The number's access token is expired, invalid or lacks permission: fix the credentials.

    A RuleViolation (400), not Unauthenticated: the caller's own session is fine.
    """

    code = "whatsapp_credentials_invalid"
    default_message = "The WhatsApp access token is invalid, expired or lacks permission."


class GraphRejected(GraphApiError, RuleViolation):
    """Meta refused this request (bad parameters, window closed, undeliverable, policy...)."""

    code = "whatsapp_request_rejected"
    default_message = "The WhatsApp Cloud API rejected the message."
