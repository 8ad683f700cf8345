"""The adapter's Graph error codes -> typed errors, retry classes and suggested backoff (no HTTP library involved)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.whatsapp.errors import backoff_seconds, classify_graph_error, graph_error, retry_after_hint
from application.ports.whatsapp import (
    GraphApiError,
    GraphAuthError,
    GraphNumberPaused,
    GraphRateLimited,
    GraphRejected,
    GraphTransientError,
)
from domain.errors import DomainError, RuleViolation, Unavailable


@pytest.mark.parametrize("code", [130429, 131056, 4, 80007])
def test_rate_limit_codes(code: int) -> None:
    assert classify_graph_error(400, code) is GraphRateLimited
    assert classify_graph_error(429, code) is GraphRateLimited


@pytest.mark.parametrize("code", [131000, 1, 2, 131016, 133004, 131057])
def test_transient_codes(code: int) -> None:
    assert classify_graph_error(400, code) is GraphTransientError
    assert classify_graph_error(500, code) is GraphTransientError


@pytest.mark.parametrize("code", [190, 0, 3, 10, 200, 250, 299])
def test_credential_codes(code: int) -> None:
    assert classify_graph_error(401, code) is GraphAuthError
    assert classify_graph_error(400, code) is GraphAuthError


@pytest.mark.parametrize(
    "code", [131047, 131026, 100, 131008, 131009, 132000, 132001, 131049, 131050, 131062, 300]
)
def test_everything_else_is_rejected(code: int) -> None:
    assert classify_graph_error(400, code) is GraphRejected


@pytest.mark.parametrize(
    ("http_status", "expected"),
    [
        (None, GraphTransientError),
        (500, GraphTransientError),
        (502, GraphTransientError),
        (503, GraphTransientError),
        (408, GraphTransientError),
        (429, GraphRateLimited),
        (401, GraphAuthError),
        (403, GraphAuthError),
        (400, GraphRejected),
        (404, GraphRejected),
    ],
)
def test_answers_without_graph_json_classify_by_http_status(http_status: int | None, expected: type) -> None:
    assert classify_graph_error(http_status, None) is expected


def test_unknown_code_on_5xx_or_flagged_transient_is_transient() -> None:
    assert classify_graph_error(500, 999999) is GraphTransientError
    assert classify_graph_error(400, 999999, is_transient=True) is GraphTransientError
    assert classify_graph_error(400, 999999) is GraphRejected


def test_categories_and_retryability() -> None:
    assert GraphRateLimited.retryable and GraphTransientError.retryable
    assert not GraphAuthError.retryable and not GraphRejected.retryable
    assert issubclass(GraphRateLimited, Unavailable) and issubclass(GraphTransientError, Unavailable)
    assert issubclass(GraphAuthError, RuleViolation) and issubclass(GraphRejected, RuleViolation)
    for error_class in (GraphRateLimited, GraphTransientError, GraphAuthError, GraphRejected):
        assert issubclass(error_class, GraphApiError) and issubclass(error_class, DomainError)
    assert {GraphRateLimited.code, GraphTransientError.code, GraphAuthError.code, GraphRejected.code} == {
        "whatsapp_rate_limited",
        "whatsapp_unavailable",
        "whatsapp_credentials_invalid",
        "whatsapp_request_rejected",
    }


@pytest.mark.parametrize(
    ("code", "attempts", "expected"),
    [
        (130429, [0, 1, 2, 3], [1.0, 2.0, 4.0, 8.0]),
        (131056, [0, 1, 2, 3], [1.0, 4.0, 16.0, 64.0]),
        (4, [0, 1], [120.0, 240.0]),
        (80007, [0, 1], [120.0, 240.0]),
        (131057, [0, 3], [60.0, 60.0]),
        (131000, [0, 1, 2], [2.0, 4.0, 8.0]),
        (None, [0, 1], [2.0, 4.0]),
    ],
)
def test_backoff_by_code_class(code: int | None, attempts: list[int], expected: list[float]) -> None:
    assert [backoff_seconds(code, attempt) for attempt in attempts] == expected


@given(st.sampled_from([130429, 131056, 4, 80007, 131057, 131000, 1, None]), st.integers(-5, 10_000))
def test_backoff_is_positive_and_capped_at_an_hour(code: int | None, attempt: int) -> None:
    assert 0 < backoff_seconds(code, attempt) <= 3600


def test_graph_error_builds_the_right_instance() -> None:
    error = graph_error(
        400,
        130429,
        title="Rate limit hit",
        error_details="throughput",
        error_subcode=2494055,
        fbtrace_id="Az8",
    )
    assert isinstance(error, GraphRateLimited)
    assert (error.graph_code, error.http_status, error.title, error.error_details) == (
        130429,
        400,
        "Rate limit hit",
        "throughput",
    )
    assert error.error_subcode == 2494055 and error.fbtrace_id == "Az8"
    assert error.retryable is True and error.retry_after_seconds == 1.0 and error.backoff_seconds(2) == 4.0
    assert error.code == "whatsapp_rate_limited"
    assert error.message == "Graph error 130429: Rate limit hit"
    assert error.details == [
        {
            "graph_code": 130429,
            "http_status": 400,
            "title": "Rate limit hit",
            "details": "throughput",
            "fbtrace_id": "Az8",
        }
    ]


def test_non_retryable_errors_suggest_no_backoff() -> None:
    rejected = graph_error(400, 131047, title="Re-engagement message")
    assert isinstance(rejected, GraphRejected)
    assert rejected.retry_after_seconds is None and rejected.backoff_seconds(3) is None
    network = graph_error(None, None, message="timed out", may_have_been_sent=True)
    assert isinstance(network, GraphTransientError) and network.may_have_been_sent
    assert network.message == "timed out" and network.retry_after_seconds == 2.0


@pytest.mark.parametrize(("code", "default"), [(131048, 3600.0), (368, 86400.0)])
def test_spam_rate_limit_and_policy_block_pause_the_number_for_metas_time_or_a_default(
        code: int, default: float) -> None:
    assert classify_graph_error(400, code) is GraphNumberPaused
    error = graph_error(400, code, title="blocked")
    assert error.pause_number_seconds == default and error.retryable and error.backoff_seconds(0) == default
    assert not error.token_invalid
    hinted = graph_error(400, code, title="blocked", retry_after=900.0)
    assert hinted.pause_number_seconds == 900.0 and hinted.backoff_seconds(3) == 900.0


@pytest.mark.parametrize(("code", "token_invalid"), [(190, True), (0, True), (10, False), (200, False)])
def test_only_an_expired_or_invalid_token_is_token_invalid(code: int, token_invalid: bool) -> None:
    error = graph_error(401, code, title="Access token")
    assert isinstance(error, GraphAuthError) and error.token_invalid is token_invalid
    assert error.pause_number_seconds is None


def test_metas_usage_headers_give_the_time_to_regain_access() -> None:
    usage = '{"1234": [{"type": "whatsapp", "call_count": 100, "total_cputime": 1, "total_time": 1, ' \
            '"estimated_time_to_regain_access": 15}]}'
    assert retry_after_hint({"X-Business-Use-Case-Usage": usage}) == 900.0
    assert retry_after_hint({"x-app-usage": '{"call_count": 100, "estimated_time_to_regain_access": 2}'}) == 120.0
    assert retry_after_hint({"Retry-After": "30"}) == 30.0
    assert retry_after_hint({"X-Business-Use-Case-Usage": "not json"}) is None
    assert retry_after_hint({"X-Business-Use-Case-Usage": '{"1": [{"estimated_time_to_regain_access": 0}]}'}) is None
    assert retry_after_hint({}) is None
