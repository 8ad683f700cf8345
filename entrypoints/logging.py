"""Structured logging (structlog), JSON lines by default, with secrets redacted.

Every line is one JSON object, also those of libraries (uvicorn, SQLAlchemy, PgQueuer, httpx, aiohttp) that log
through the standard library: their records are rendered by structlog's ``ProcessorFormatter`` with the same
processors (a traceback becomes the ``exception`` field of its line, never lines of its own).

Two passes: values of sensitive keys (``password``, ``token``...) are replaced whole; then every string in the
event, nested ones and the rendered exception traceback included, loses what ``redact_text`` recognises (bearer
tokens, Meta ``EAA...`` tokens, ``password=``-style pairs). Standard-library records (uvicorn, SQLAlchemy,
PgQueuer) get the same treatment of their message and exception text. The database engine hides statement
parameters from its errors, so data values do not reach an exception text in the first place.
"""

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


_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Second line of defence for libraries' stdlib log records (uvicorn, SQLAlchemy, PgQueuer): bearer
    tokens, Meta tokens and ``password=``/``token=``-style values are replaced in the message and in the
    exception and stack text before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # handlers' formatters reuse exc_text once it is set
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def _redact_strings(_: object, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every string of the event (after ``format_exc_info``, so the traceback text too)."""
    for key, value in event_dict.items():
        event_dict[key] = _redact_value(value)
    return event_dict


def _json(value: Any, **_: Any) -> str:
    """orjson for log lines (several times faster than json.dumps); anything it cannot encode becomes str()."""
    return orjson.dumps(value, default=str).decode()


def configure_logging(*, level: str = "INFO", json_output: bool = True) -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_json) if json_output
        else structlog.dev.ConsoleRenderer(colors=False))
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True), _redact]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, _redact_strings, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _redact_strings, renderer]))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's own handlers print plain text
        library = logging.getLogger(name)
        library.handlers, library.propagate = [], True
