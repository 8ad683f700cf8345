"""Port to the WhatsApp Cloud API (Graph API) and its typed errors.

Every method takes the sending number's ``phone_number_id`` and its ``access_token`` first; the
caller resolves the token from the vault on every use and the gateway never stores or logs it.
Errors are classified here, without any HTTP library, so the worker can decide retry or
dead-letter from ``retryable`` and :meth:`GraphApiError.backoff_seconds`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from domain.errors import DomainError, RuleViolation, Unavailable

MediaKind = Literal["image", "document", "video", "audio"]

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
        header: str | None = None,
        footer: str | None = None,
        *,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage:
        """Reply buttons given as ``(id, title)`` pairs; ``header`` is a text header."""

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
        link: str,
        caption: str | None = None,
        filename: str | None = None,
        *,
        reply_to: str | None = None,
        tracking: str | None = None,
    ) -> SentMessage:
        """Media by hosted ``link``; ``caption`` is ignored for audio, ``filename`` applies to documents."""

    @abstractmethod
    async def mark_read(self, phone_number_id: str, access_token: str, message_wamid: str) -> None: ...

    @abstractmethod
    async def get_phone_number(self, phone_number_id: str, access_token: str) -> PhoneNumberDetails:
        """Checks the token can see the number (the "test connection" call)."""


# --- typed errors --------------------------------------------------------------------------------

RATE_LIMIT_CODES: frozenset[int] = frozenset({4, 80007, 130429, 131056})
TRANSIENT_CODES: frozenset[int] = frozenset({1, 2, 131000, 131016, 131057, 133004})
AUTH_CODES: frozenset[int] = frozenset({0, 3, 10, 190, *range(200, 300)})

_MINUTES_CODES = frozenset({4, 80007})
_MAX_BACKOFF = 3600.0


class GraphApiError(DomainError):
    """A Graph API call failed. ``graph_code`` is Meta's ``error.code`` (None: no JSON answer).

    ``may_have_been_sent`` is True when the request may have reached Meta (read timeout, 5xx, an
    unreadable 2xx): the worker reconciles through the status webhook's ``biz_opaque_callback_data``
    instead of trusting that nothing was sent.
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
        self.retry_after_seconds: float | None = self.backoff_seconds(0)

    def backoff_seconds(self, attempt: int) -> float | None:
        """Suggested wait before retry number ``attempt + 1`` (None: do not retry). Add jitter."""
        return backoff_seconds(self.graph_code, attempt) if self.retryable else None


class GraphRateLimited(GraphApiError, Unavailable):
    """130429 throughput, 131056 pair rate, 4 app / 80007 WABA call limits. Retry later."""

    code = "whatsapp_rate_limited"
    default_message = "The WhatsApp Cloud API rate limit was reached."
    retryable = True


class GraphTransientError(GraphApiError, Unavailable):
    """Meta-side trouble, maintenance, 5xx without JSON, timeouts and network errors. Retry later."""

    code = "whatsapp_unavailable"
    default_message = "The WhatsApp Cloud API is temporarily unavailable."
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


def classify_graph_error(
    http_status: int | None, graph_code: int | None, *, is_transient: bool = False
) -> type[GraphApiError]:
    """Error class of a failed call. ``graph_code`` None means no Graph JSON (network error, HTML 5xx)."""
    if graph_code is not None:
        if graph_code in RATE_LIMIT_CODES:
            return GraphRateLimited
        if graph_code in TRANSIENT_CODES:
            return GraphTransientError
        if graph_code in AUTH_CODES:
            return GraphAuthError
        if is_transient or (http_status is not None and http_status >= 500):
            return GraphTransientError
        return GraphRejected
    if http_status is None or http_status >= 500 or http_status in (408, 425):
        return GraphTransientError
    if http_status == 429:
        return GraphRateLimited
    if http_status in (401, 403):
        return GraphAuthError
    return GraphRejected


def backoff_seconds(graph_code: int | None, attempt: int) -> float:
    """Base wait by code class before retry ``attempt + 1`` (attempt counts from 0), capped at 1 h.

    130429 -> 1 s doubling; 131056 -> 4^attempt s (Meta's pair-rate rule); 4/80007 -> 2 minutes
    doubling; 131057 -> 60 s; other transient failures -> 2 s doubling.
    """
    step = max(attempt, 0)
    if graph_code == 130429:
        delay = 2.0 ** min(step, 12)
    elif graph_code == 131056:
        delay = 4.0 ** min(step, 6)
    elif graph_code in _MINUTES_CODES:
        delay = 120.0 * 2.0 ** min(step, 5)
    elif graph_code == 131057:
        delay = 60.0
    else:
        delay = 2.0 * 2.0 ** min(step, 11)
    return min(delay, _MAX_BACKOFF)


def graph_error(
    http_status: int | None,
    graph_code: int | None,
    *,
    message: str | None = None,
    title: str | None = None,
    error_details: str | None = None,
    error_subcode: int | None = None,
    fbtrace_id: str | None = None,
    is_transient: bool = False,
    may_have_been_sent: bool = False,
) -> GraphApiError:
    """Build the right :class:`GraphApiError` subclass for a failed call."""
    error_class = classify_graph_error(http_status, graph_code, is_transient=is_transient)
    if message is None:
        label = f"Graph error {graph_code}" if graph_code is not None else f"HTTP {http_status}"
        message = f"{label}: {title or error_class.default_message}"
    return error_class(
        message,
        graph_code=graph_code,
        http_status=http_status,
        title=title,
        error_details=error_details,
        error_subcode=error_subcode,
        fbtrace_id=fbtrace_id,
        may_have_been_sent=may_have_been_sent,
    )
