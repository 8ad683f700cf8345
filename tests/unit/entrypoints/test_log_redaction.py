"""Secrets are redacted from structured events and from libraries' plain log records."""

from __future__ import annotations

import json
import logging

import pytest

from entrypoints.logging import RedactingFilter, configure_logging, redact_text


@pytest.fixture(autouse=True)
def _logging_back_on_the_real_stderr():  # type: ignore[no-untyped-def]
    """Tests here configure logging onto pytest's captured stream, which is closed after the test: later tests
    must not log into it."""
    yield
    import sys

    stderr, sys.stderr = sys.stderr, sys.__stderr__
    try:
        configure_logging(level="WARNING", json_output=True)
    finally:
        sys.stderr = stderr


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


def _structured_lines(capsys: pytest.CaptureFixture[str], emit: object) -> list[dict[str, object]]:
    configure_logging(level="INFO", json_output=True)
    try:
        emit()  # type: ignore[operator]
        err = capsys.readouterr().err
    finally:
        import structlog

        structlog.reset_defaults()
    return [json.loads(line) for line in err.strip().splitlines()]


def test_structured_logs_redact_every_string_value(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    def emit() -> None:
        structlog.get_logger("t").info("call", detail="Authorization: Bearer canary-value-1",
                                       nested={"k": ["password=canary-value-2", 7]}, meta="EAAGcanaryvalue3abcdefgh")

    [line] = _structured_lines(capsys, emit)
    text = json.dumps(line)
    assert "canary-value-1" not in text and "canary-value-2" not in text and "canaryvalue3" not in text
    assert line["detail"] == "Authorization: Bearer [redacted]" and line["nested"] == {"k": ["password=[redacted]", 7]}


def test_structured_logs_redact_the_rendered_exception(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    def emit() -> None:
        try:
            raise RuntimeError("upstream said Bearer canary-exc-token and token=canary-exc-2")
        except RuntimeError:
            structlog.get_logger("t").exception("boom")

    [line] = _structured_lines(capsys, emit)
    assert "RuntimeError" in str(line["exception"])
    assert "canary-exc-token" not in json.dumps(line) and "canary-exc-2" not in json.dumps(line)


def test_the_filter_rewrites_library_exception_text(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("some.library")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="some.library"):
        try:
            raise ValueError("connect failed: password=canary-lib-pw Bearer canary-lib-token")
        except ValueError:
            logger.exception("failed")
    assert "ValueError" in caplog.text
    assert "canary-lib-pw" not in caplog.text and "canary-lib-token" not in caplog.text


def test_library_records_are_json_lines_with_their_traceback_inside(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json_output=True)
    try:
        raise ConnectionResetError("peer gone, token=EAAGabcdefghijklmnopqrstuvwx")
    except ConnectionResetError:
        logging.getLogger("pgqueuer.qm").exception("retrying job %s", 42)
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line parses: no plain text, no traceback lines
    assert [(r["logger"], r["level"], r["event"]) for r in records] == [
        ("pgqueuer.qm", "error", "retrying job 42"), ("uvicorn.error", "warning", "Invalid HTTP request received.")]
    assert "ConnectionResetError" in records[0]["exception"]
    assert "EAAGabcdefghijklmnopqrstuvwx" not in lines[0]
