"""Meta's error codes and what each means for us: the class of error, its backoff, a paused number, a dead token.

The port (``application/ports/whatsapp.py``) knows only the meaning; which Graph code means what is Meta's
business and lives here (CLOUD_API_FACTS.md section 2.3, Meta's "Error codes" page):

- rate limits, retried with a backoff by code: 130429 throughput (1 s doubling), 131056 pair rate (4^attempt s,
  Meta's rule), 4 app and 80007 account call limits (2 minutes doubling);
- transient trouble, retried: 1, 2, 131000, 131016, 133004, and 131057 (maintenance, about 60 s);
- the number paused (a circuit breaker, no message fails for it): 131048 spam rate limit and 368 temporarily
  blocked for policy violations, for the time Meta indicates (``X-Business-Use-Case-Usage``'s
  ``estimated_time_to_regain_access``, or ``Retry-After``) or else 1 hour (131048) / 24 hours (368);
- credentials: 0, 3, 10, 190, 200-299; 0 and 190 mean the token itself is expired or invalid;
- anything else is a rejection of this request.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from application.ports.whatsapp import (
    MAX_BACKOFF_SECONDS,
    Backoff,
    GraphApiError,
    GraphAuthError,
    GraphNumberPaused,
    GraphRateLimited,
    GraphRejected,
    GraphTransientError,
)

RATE_LIMIT_CODES: frozenset[int] = frozenset({4, 80007, 130429, 131056})
TRANSIENT_CODES: frozenset[int] = frozenset({1, 2, 131000, 131016, 131057, 133004})
AUTH_CODES: frozenset[int] = frozenset({0, 3, 10, 190, *range(200, 300)})
TOKEN_INVALID_CODES: frozenset[int] = frozenset({0, 190})
PAUSE_CODES: dict[int, float] = {131048: 3600.0, 368: 86400.0}
"""Codes that pause the whole number, with the pause used when Meta gives no time."""

_BACKOFFS: dict[int, Backoff] = {
    130429: Backoff(1.0, 2.0),
    131056: Backoff(1.0, 4.0),
    4: Backoff(120.0, 2.0),
    80007: Backoff(120.0, 2.0),
    131057: Backoff(60.0, 1.0),
}
_DEFAULT_BACKOFF = Backoff(2.0, 2.0)


def classify_graph_error(
    http_status: int | None, graph_code: int | None, *, is_transient: bool = False
) -> type[GraphApiError]:
    """Error class of a failed call. ``graph_code`` None means no Graph JSON (network error, HTML 5xx)."""
    if graph_code is not None:
        if graph_code in PAUSE_CODES:
            return GraphNumberPaused
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


def backoff_for(graph_code: int | None) -> Backoff:
    return _BACKOFFS.get(graph_code, _DEFAULT_BACKOFF) if graph_code is not None else _DEFAULT_BACKOFF


def backoff_seconds(graph_code: int | None, attempt: int) -> float:
    """Base wait by code before retry ``attempt + 1`` (attempt counts from 0), capped at 1 h.

    130429 -> 1 s doubling; 131056 -> 4^attempt s (Meta's pair-rate rule); 4/80007 -> 2 minutes
    doubling; 131057 -> 60 s; other transient failures -> 2 s doubling.
    """
    return backoff_for(graph_code).seconds(attempt)


def retry_after_hint(headers: Mapping[str, str]) -> float | None:
    """Seconds Meta says to wait: ``Retry-After`` (seconds), else the longest ``estimated_time_to_regain_access``
    (minutes) of ``X-Business-Use-Case-Usage`` / ``X-App-Usage``; None when it says nothing usable."""
    lowered = {name.lower(): value for name, value in headers.items()}
    raw = lowered.get("retry-after", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return float(min(int(raw), MAX_BACKOFF_SECONDS * 24 * 7))
    minutes = 0.0
    for name in ("x-business-use-case-usage", "x-app-usage"):
        try:
            usage = orjson.loads(lowered.get(name, "") or "null")
        except orjson.JSONDecodeError:
            continue
        for entry in _usage_entries(usage):
            value = entry.get("estimated_time_to_regain_access")
            if isinstance(value, int | float) and not isinstance(value, bool):
                minutes = max(minutes, float(value))
    return min(minutes * 60.0, 7 * 86400.0) if minutes > 0 else None


def _usage_entries(usage: object) -> list[Mapping[str, object]]:
    if isinstance(usage, Mapping) and "estimated_time_to_regain_access" in usage:
        return [usage]
    if isinstance(usage, Mapping):
        return [e for items in usage.values() if isinstance(items, list) for e in items if isinstance(e, Mapping)]
    return []


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
    retry_after: float | None = None,
) -> GraphApiError:
    """Build the right :class:`GraphApiError` subclass for a failed call, with its meaning filled in."""
    error_class = classify_graph_error(http_status, graph_code, is_transient=is_transient)
    if message is None:
        label = f"Graph error {graph_code}" if graph_code is not None else f"HTTP {http_status}"
        message = f"{label}: {title or error_class.default_message}"
    pause = None
    backoff = backoff_for(graph_code)
    if graph_code in PAUSE_CODES:
        pause = retry_after or PAUSE_CODES[graph_code]
        backoff = Backoff(pause, 1.0, max(pause, MAX_BACKOFF_SECONDS))
    elif retry_after and error_class is GraphRateLimited:
        backoff = Backoff(max(retry_after, backoff.first), backoff.factor, max(retry_after, backoff.cap))
    return error_class(
        message,
        graph_code=graph_code,
        http_status=http_status,
        title=title,
        error_details=error_details,
        error_subcode=error_subcode,
        fbtrace_id=fbtrace_id,
        may_have_been_sent=may_have_been_sent,
        backoff=backoff,
        pause_number_seconds=pause,
        token_invalid=graph_code in TOKEN_INVALID_CODES,
    )
