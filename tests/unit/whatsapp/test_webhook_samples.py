"""Every real sample payload (CLOUD_API_FACTS.md W1..W13) parses to the right domain events."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.whatsapp.webhook_parser import parse_webhook
from domain.messaging import ErrorDetail, InboundMessage, InboundMessageType, StatusUpdate, WebhookError
from tests.fixtures import whatsapp_samples as samples

T = InboundMessageType
BSUID = "US.13491208655302741918"


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _only(payload: dict) -> InboundMessage | StatusUpdate | WebhookError:
    events = parse_webhook(payload)
    assert len(events) == 1
    return events[0]


def test_w1_inbound_text() -> None:
    assert _only(samples.W1_INBOUND_TEXT) == InboundMessage(
        phone_number_id="106540352242922",
        display_phone_number="15550783881",
        wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
        from_wa_id="16505551234",
        from_user_id=None,
        profile_name="Sheena Nelson",
        timestamp=_at(1749416383),
        type=T.TEXT,
        text="Does it come in another color?",
    )


def test_w2_reply_with_context_and_bsuid() -> None:
    event = _only(samples.W2_INBOUND_REPLY)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.context_wamid) == (T.TEXT, "replied text", "wamid.xyzxyz==")
    assert (event.from_wa_id, event.from_user_id, event.profile_name) == ("972987654321", BSUID, "Test Name")
    assert (event.phone_number_id, event.display_phone_number) == ("1122334455667", "972123456789")
    assert event.timestamp == _at(1697044746) and event.timestamp.tzinfo is UTC


def test_w3_button_reply() -> None:
    event = _only(samples.W3_BUTTON_REPLY)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.reply_id) == (T.INTERACTIVE, "Cancel", "cancel-button")
    assert event.context_wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"
    assert event.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA="


def test_w4_list_reply() -> None:
    event = _only(samples.W4_LIST_REPLY)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.reply_id) == (
        T.INTERACTIVE,
        "Priority Mail Express",
        "priority_express",
    )
    assert event.timestamp == _at(1749854575)


def test_w5_template_quick_reply() -> None:
    event = _only(samples.W5_TEMPLATE_QUICK_REPLY)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.reply_id) == (T.BUTTON, "title", "callback_data")
    assert (event.wamid, event.context_wamid) == ("wamid.xsidjw", "wamid.xyzxyz==")


def test_w6_image() -> None:
    event = _only(samples.W6_INBOUND_IMAGE)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.media_id, event.media_mime_type, event.text) == (
        T.IMAGE,
        "65463453",
        "image/jpeg",
        None,
    )


def test_w7_w8_w9_statuses() -> None:
    sent, delivered, read = (
        _only(sample)
        for sample in (samples.W7_STATUS_SENT, samples.W8_STATUS_DELIVERED, samples.W9_STATUS_READ)
    )
    assert sent == StatusUpdate(
        phone_number_id="106540352242922",
        wamid="wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
        status="sent",
        timestamp=_at(1750030073),
        recipient_wa_id="16505551234",
    )
    assert isinstance(delivered, StatusUpdate) and (delivered.status, delivered.timestamp) == (
        "delivered",
        _at(1750263773),
    )
    assert isinstance(read, StatusUpdate)
    assert (read.status, read.wamid, read.recipient_wa_id, read.recipient_user_id) == (
        "read",
        "wamid.xyzxyz",
        "972987654321",
        BSUID,
    )


def test_w10_failed_status_with_errors() -> None:
    event = _only(samples.W10_STATUS_FAILED)
    assert isinstance(event, StatusUpdate)
    assert event.status == "failed" and event.message_status == "failed"
    assert event.errors == (
        ErrorDetail(
            131049,
            "This message was not delivered to maintain healthy ecosystem engagement.",
            "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        ),
    )


def test_w11_value_level_error() -> None:
    assert _only(samples.W11_VALUE_ERROR) == WebhookError(
        phone_number_id="106540352242922",
        code=130429,
        title="Rate limit hit",
        details=(
            "Message failed to send because there were too many messages sent from this phone number "
            "in a short period of time"
        ),
    )


def test_w12_unsupported_keeps_its_errors() -> None:
    event = _only(samples.W12_UNSUPPORTED)
    assert isinstance(event, InboundMessage)
    assert (event.type, event.text, event.from_wa_id) == (T.UNSUPPORTED, None, "972987654321")
    assert event.errors == (
        ErrorDetail(131051, "Message type unknown", "Message type is currently not supported."),
    )


def test_w13_username_user_has_only_a_bsuid() -> None:
    event = _only(samples.W13_USERNAME_USER)
    assert isinstance(event, InboundMessage)
    assert (event.from_wa_id, event.from_user_id, event.sender) == (None, BSUID, BSUID)
    assert (event.profile_name, event.text) == ("Sheena Nelson", "Does it come in another color?")


def test_every_sample_yields_exactly_one_event() -> None:
    counts = {name: len(parse_webhook(payload)) for name, payload in samples.SAMPLES.items()}
    assert counts == dict.fromkeys(samples.SAMPLES, 1)


def test_interactive_without_its_object_is_unsupported_plus_value_error() -> None:
    message, error = parse_webhook(samples.INTERACTIVE_WITH_ERROR)
    assert isinstance(message, InboundMessage) and message.type is T.UNSUPPORTED
    assert message.wamid == "wamid.interactive_err"
    assert error == WebhookError(
        phone_number_id="1122334455667",
        code=131000,
        title="Something went wrong",
        details="Unsupported webhook payload",
    )


def test_status_tracking_and_bsuid() -> None:
    event = _only(samples.STATUS_WITH_TRACKING)
    assert isinstance(event, StatusUpdate)
    assert (event.biz_opaque_callback_data, event.recipient_user_id) == ("msg-42", BSUID)


def test_mixed_inbound_types() -> None:
    reaction, voice, location, forwarded, poll = parse_webhook(samples.MIXED_INBOUND)
    assert isinstance(reaction, InboundMessage) and (
        reaction.type,
        reaction.text,
        reaction.target_wamid,
    ) == (T.REACTION, "\U0001f44d", "wamid.target")
    assert isinstance(voice, InboundMessage) and (voice.type, voice.media_id) == (T.AUDIO, "998877")
    assert isinstance(location, InboundMessage) and location.type is T.LOCATION
    assert isinstance(forwarded, InboundMessage) and forwarded.forwarded and forwarded.text == "fwd"
    assert isinstance(poll, InboundMessage) and poll.type is T.UNSUPPORTED
