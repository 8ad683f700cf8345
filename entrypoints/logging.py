"""Structured logging (structlog), JSON lines by default."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_REDACT_KEYS = {"password", "new_password", "token", "access_token", "refresh_token", "authorization",
                "value", "secret", "jwt_secret", "app_secret", "api_key"}


def _redact(_: object, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key.lower() in _REDACT_KEYS:
            event_dict[key] = "[redacted]"
    return event_dict


_PATTERNS = [
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:password|new_password|token|access_token|refresh_token|secret|api_key|value)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]+"), r"\1[redacted]"),
    (re.compile(r"EAA[A-Za-z0-9]{16,}"), "[redacted]"),  # Meta access tokens
]


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Second line of defence for libraries' stdlib log records (uvicorn, SQLAlchemy, PgQueuer): bearer
    tokens, Meta tokens and ``password=``/``token=``-style values are replaced before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _redact_event(_: object, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event = event_dict.get("event")
    if isinstance(event, str):
        event_dict["event"] = redact_text(event)
    return event_dict


def _json(value: Any, **_: Any) -> str:
    """orjson for log lines (several times faster than json.dumps); anything it cannot encode becomes str()."""
    return orjson.dumps(value, default=str).decode()


def configure_logging(*, level: str = "INFO", json_output: bool = True) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_json) if json_output
        else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), _redact, _redact_event,
                    structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(message)s")
    redacting = RedactingFilter()
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
