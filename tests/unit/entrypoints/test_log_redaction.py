"""Secrets are redacted from structured events and from libraries' plain log records."""

from __future__ import annotations

import json
import logging

import pytest

from entrypoints.logging import RedactingFilter, configure_logging, redact_text


@pytest.mark.parametrize(("raw", "leak"), [
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature", "eyJhbGciOiJIUzI1NiJ9"),
    ("login password=hunter2-canary", "hunter2-canary"),
    ('{"refresh_token": "opaque-canary-123"}', "opaque-canary-123"),
    ("token=EAAGabcdefghijklmnopqrstuvwx sent", "EAAGabcdefghijklmnopqrstuvwx"),
    ("meta said EAAGabcdefghijklmnopqrstuvwxyz012345", "EAAGabcdefghijklmnopqrstuvwxyz012345"),
])
def test_redact_text_removes_the_secret(raw: str, leak: str) -> None:
    cleaned = redact_text(raw)
    assert leak not in cleaned and "[redacted]" in cleaned


def test_plain_text_is_left_alone() -> None:
    assert redact_text("contact 5511987654321 created") == "contact 5511987654321 created"


def test_the_filter_rewrites_library_records_before_handlers_see_them(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("some.library")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="some.library"):
        logger.info("calling with %s", "Bearer abcdefghijklmnop-canary")
    assert "abcdefghijklmnop-canary" not in caplog.text and "[redacted]" in caplog.text


def test_structured_logs_redact_keys_and_event_text(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    configure_logging(level="INFO", json_output=True)
    try:
        structlog.get_logger("t").info("got password=canary-pw", password="canary-2", user="ana")
        err = capsys.readouterr().err
    finally:
        structlog.reset_defaults()  # the configuration printed to this test's captured (soon closed) stderr
    assert "canary-pw" not in err and "canary-2" not in err
    line = json.loads(err.strip().splitlines()[-1])  # one JSON object per line
    assert (line["user"], line["password"], line["level"]) == ("ana", "[redacted]", "info")
