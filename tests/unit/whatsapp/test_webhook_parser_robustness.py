"""The parser never raises: malformed pieces are skipped or become ``unsupported`` messages."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.whatsapp.webhook_parser import parse_webhook
from domain.messaging import IdentityChange, IgnoredChange, InboundMessage, InboundMessageType, StatusUpdate
from tests.fake_graph import builders
from tests.fixtures import whatsapp_samples as samples

RECEIVED = datetime(2026, 6, 1, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "object",
        "entry",
        "changes",
        "value",
        "field",
        "metadata",
        "phone_number_id",
        "messages",
        "statuses",
        "errors",
        "contacts",
        "id",
        "from",
        "type",
        "text",
        "body",
        "timestamp",
        "interactive",
        "button_reply",
        "status",
        "code",
        "context",
    ]
)
meta_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.just("messages"),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=5),
    max_leaves=40,
)


@given(json_values)
def test_arbitrary_json_never_raises(payload: Any) -> None:
    assert isinstance(parse_webhook(payload), list)


@given(meta_like)
@settings(max_examples=300)
def test_meta_shaped_garbage_never_raises(payload: Any) -> None:
    for event in parse_webhook(payload):
        assert event.phone_number_id


def _mutations() -> list[tuple[str, Any]]:
    return [("entry", "nope"), ("entry", [None, 1, "x"]), ("object", "page"), ("entry", [{"changes": {}}])]


@pytest.mark.parametrize(("key", "value"), _mutations())
def test_broken_envelopes_give_no_events(key: str, value: Any) -> None:
    payload = copy.deepcopy(samples.W1_INBOUND_TEXT)
    payload[key] = value
    assert parse_webhook(payload) == []


def _message_of(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]


def test_other_fields_are_ignored_changes_and_values_without_routing_are_skipped() -> None:
    other_field = copy.deepcopy(samples.W1_INBOUND_TEXT)
    other_field["entry"][0]["changes"][0]["field"] = "security"
    no_metadata = copy.deepcopy(samples.W1_INBOUND_TEXT)
    del no_metadata["entry"][0]["changes"][0]["value"]["metadata"]
    assert parse_webhook(other_field) == [IgnoredChange(field="security", waba_id="102290129340398")]
    assert parse_webhook(no_metadata) == []


def test_messages_without_id_or_sender_are_skipped() -> None:
    no_id = copy.deepcopy(samples.W1_INBOUND_TEXT)
    del _message_of(no_id)["id"]
    no_sender = copy.deepcopy(samples.W1_INBOUND_TEXT)
    del _message_of(no_sender)["from"]
    no_sender["entry"][0]["changes"][0]["value"]["contacts"] = []
    assert parse_webhook(no_id) == [] and parse_webhook(no_sender) == []


@pytest.mark.parametrize(
    "change",
    [
        {"type": "hologram"},
        {"type": None},
        {"type": ["text"]},
        {"text": "not an object"},
        {"text": {"body": ""}},
        {"type": "interactive", "interactive": {"type": "mystery"}},
    ],
)
def test_malformed_messages_become_unsupported(change: dict[str, Any]) -> None:
    payload = copy.deepcopy(samples.W1_INBOUND_TEXT)
    _message_of(payload).update(change)
    (event,) = parse_webhook(payload)
    assert isinstance(event, InboundMessage)
    assert event.type is InboundMessageType.UNSUPPORTED and event.from_wa_id == "16505551234"


@pytest.mark.parametrize("timestamp", [None, "", "abc", "-5", "9" * 40, 1.5, {"x": 1}])
def test_unreadable_timestamps_fall_back_to_received_at(timestamp: Any) -> None:
    payload = copy.deepcopy(samples.W7_STATUS_SENT)
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["timestamp"] = timestamp
    (event,) = parse_webhook(payload, received_at=RECEIVED)
    assert isinstance(event, StatusUpdate) and event.timestamp == RECEIVED


def test_error_entries_without_integer_codes_are_dropped() -> None:
    payload = copy.deepcopy(samples.W10_STATUS_FAILED)
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["errors"] = [
        {"code": "131047", "title": "Re-engagement message"},
        {"code": "x"},
        {"code": True},
        "junk",
    ]
    (event,) = parse_webhook(payload)
    assert isinstance(event, StatusUpdate)
    assert [(error.code, error.title, error.details) for error in event.errors] == [
        (131047, "Re-engagement message", None)
    ]


def test_a_batch_of_many_changes_keeps_every_event_in_order() -> None:
    payload = builders.batch(
        samples.W1_INBOUND_TEXT, samples.W7_STATUS_SENT, samples.W11_VALUE_ERROR, samples.W2_INBOUND_REPLY
    )
    assert [type(event).__name__ for event in parse_webhook(payload)] == [
        "InboundMessage",
        "StatusUpdate",
        "WebhookError",
        "InboundMessage",
    ]
    assert len(payload["entry"]) == 2  # grouped by WABA id


_TYPES = ["text", "interactive", "button", "image", "reaction", "system", "location", "unsupported", "poll"]
_INNER_KEYS = ["body", "id", "title", "type", "button_reply", "payload", "caption", "emoji", "message_id"]
small = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.lists(st.text(max_size=3), max_size=2)
    | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)
)
inner = st.dictionaries(
    st.sampled_from(_INNER_KEYS), small | st.dictionaries(st.sampled_from(_INNER_KEYS), small)
)
message_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": small,
        "from": small,
        "from_user_id": small,
        "type": st.sampled_from(_TYPES) | small,
        "timestamp": st.integers().map(str) | small,
        "context": inner | small,
        "errors": st.lists(st.fixed_dictionaries({}, optional={"code": small, "title": small}), max_size=2),
        **dict.fromkeys(_TYPES[:5], inner | small),
    },
)


@given(st.lists(message_fields, max_size=3), st.lists(inner | small, max_size=2))
@settings(max_examples=200)
def test_fuzzed_messages_and_contacts_never_raise(messages: list[Any], contacts: list[Any]) -> None:
    value: dict[str, Any] = {"metadata": {"phone_number_id": "1"}, "messages": messages, "contacts": contacts}
    payload = {"entry": [{"changes": [{"field": "messages", "value": value}]}]}
    for event in parse_webhook(payload, received_at=RECEIVED):
        assert isinstance(event, InboundMessage | IdentityChange)  # type: system is a notice, not the user's words
        assert event.wamid and event.timestamp.tzinfo is not None
        if isinstance(event, InboundMessage):
            assert event.from_wa_id or event.from_user_id
