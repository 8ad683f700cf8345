"""The fake's webhook builders produce Meta's envelope, which our parser reads back."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.whatsapp.webhook_parser import parse_webhook
from domain.messaging import ErrorDetail, InboundMessage, InboundMessageType, StatusUpdate, WebhookError
from tests.fake_graph import builders
from tests.fixtures.whatsapp_samples import W1_INBOUND_TEXT

PHONE = "106540352242922"
WHEN = datetime(2025, 6, 8, 20, 53, 3, tzinfo=UTC)


def test_inbound_text_matches_the_w1_sample_exactly() -> None:
    payload = builders.inbound_text(
        PHONE,
        "16505551234",
        "Does it come in another color?",
        name="Sheena Nelson",
        timestamp=1749416383,
        wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    )
    assert payload == W1_INBOUND_TEXT


def test_replies_parse_back() -> None:
    button = builders.inbound_button_reply(
        PHONE, "5511999990000", "yes", "Yes!", context_wamid="wamid.q", timestamp=WHEN
    )
    row = builders.inbound_list_reply(PHONE, "5511999990000", "row-2", "Second", description="two")
    quick = builders.inbound_quick_reply(PHONE, "5511999990000", "stop", "Stop promotions")
    events = parse_webhook(builders.batch(button, row, quick))
    assert [(e.type, e.text, e.reply_id) for e in events if isinstance(e, InboundMessage)] == [
        (InboundMessageType.INTERACTIVE, "Yes!", "yes"),
        (InboundMessageType.INTERACTIVE, "Second", "row-2"),
        (InboundMessageType.BUTTON, "Stop promotions", "stop"),
    ]
    first = events[0]
    assert isinstance(first, InboundMessage)
    assert (first.context_wamid, first.timestamp, first.profile_name) == ("wamid.q", WHEN, "Test User")
    assert (
        row["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["list_reply"]["description"]
        == "two"
    )


def test_username_user_message_has_no_phone() -> None:
    payload = builders.inbound_text(PHONE, None, "hi", user_id="BR.123456")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    assert "from" not in message and message["from_user_id"] == "BR.123456"
    (event,) = parse_webhook(payload)
    assert isinstance(event, InboundMessage) and (event.from_wa_id, event.from_user_id) == (None, "BR.123456")


def test_status_updates_with_tracking_and_errors() -> None:
    failed = builders.status_update(
        PHONE,
        "wamid.A",
        "failed",
        "16505551234",
        tracking="msg-1",
        errors=[(131047, "Re-engagement message", "More than 24 hours")],
    )
    value = failed["entry"][0]["changes"][0]["value"]
    assert "contacts" not in value  # Meta omits contacts on failed statuses
    assert value["statuses"][0]["errors"][0] == {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {"details": "More than 24 hours"},
        "href": builders.ERRORS_HREF,
    }
    read = builders.status_update(PHONE, "wamid.A", "read", "16505551234", timestamp=WHEN)
    assert read["entry"][0]["changes"][0]["value"]["contacts"] == [{"profile": {}, "wa_id": "16505551234"}]
    first, second = parse_webhook(builders.batch(failed, read))
    assert isinstance(first, StatusUpdate) and isinstance(second, StatusUpdate)
    assert (first.status, first.biz_opaque_callback_data) == ("failed", "msg-1")
    assert first.errors == (ErrorDetail(131047, "Re-engagement message", "More than 24 hours"),)
    assert (second.status, second.timestamp) == ("read", WHEN)


def test_value_error_builder() -> None:
    (event,) = parse_webhook(builders.value_error(PHONE, 131000, "Something went wrong", "Unsupported"))
    assert event == WebhookError(
        phone_number_id=PHONE, code=131000, title="Something went wrong", details="Unsupported"
    )


def test_webhook_body_is_compact_ascii_json() -> None:
    body = builders.webhook_body(builders.inbound_text(PHONE, "1", "olá", wamid="wamid.x", timestamp=1))
    assert b" " not in body.replace(b"Test User", b"") and b"ol\\u00e1" in body
    assert builders.webhook_body(b"raw") == b"raw"
