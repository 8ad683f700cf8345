"""The decoder on every inbound content type: Meta's shapes parsed into type, text, reply id and details; the
fields Meta leaves out are left out; arbitrary values never raise and always give storable JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.whatsapp.decoder import MetaWebhookDecoder
from adapters.whatsapp.inbound_content import clean_json, message_content
from adapters.whatsapp.webhook_parser import parse_webhook
from domain.messaging import InboundMessage
from domain.messaging import InboundMessageType as T
from tests.fake_graph import builders
from tests.fixtures import whatsapp_content_samples as s

pytestmark = pytest.mark.unit

PNID, USER = "106540352242922", "16505551234"
RECEIVED = datetime(2026, 1, 1, tzinfo=UTC)


def parsed(payload: dict[str, Any]) -> InboundMessage:
    [event] = MetaWebhookDecoder("secret").parse(builders.webhook_body(payload), RECEIVED)
    assert isinstance(event, InboundMessage)
    return event


def test_reaction_edit_and_revoke_name_their_target() -> None:
    reaction = parsed(builders.inbound_reaction(PNID, USER, "wamid.target", "\U0001f44d"))
    assert (reaction.type, reaction.text, reaction.target_wamid, reaction.is_annotation) == (
        T.REACTION, "\U0001f44d", "wamid.target", True)
    removed = parsed(builders.inbound_reaction(PNID, USER, "wamid.target", ""))
    assert (removed.type, removed.text, removed.target_wamid) == (T.REACTION, None, "wamid.target")
    edit = parsed(builders.inbound_edit(PNID, USER, "wamid.original", "text", {"body": "novo"}))
    assert (edit.type, edit.text, edit.target_wamid, dict(edit.details)) == (
        T.EDIT, "novo", "wamid.original", {"type": "text"})
    revoke = parsed(builders.inbound_revoke(PNID, USER, "wamid.original"))
    assert (revoke.type, revoke.target_wamid, revoke.text, revoke.is_annotation) == (
        T.REVOKE, "wamid.original", None, True)


@pytest.mark.parametrize("payload", [
    builders.inbound_message(PNID, USER, "reaction", {"emoji": "\U0001f44d"}),
    builders.inbound_message(PNID, USER, "edit", {"original_message_id": "wamid.x"}),
    builders.inbound_message(PNID, USER, "edit", {"message": {"type": "text", "text": {"body": "x"}}}),
    builders.inbound_message(PNID, USER, "edit", {"original_message_id": "wamid.x",
                                                  "message": {"type": "poll", "poll": {}}}),
    builders.inbound_message(PNID, USER, "revoke", {}),
    builders.inbound_message(PNID, USER, "contacts", []),
    builders.inbound_message(PNID, USER, "location", {}),
], ids=["reaction-no-target", "edit-no-message", "edit-no-target", "edit-of-unknown-type", "revoke-no-target",
        "contacts-empty", "location-empty"])
def test_malformed_annotations_and_contents_are_unsupported(payload: dict[str, Any]) -> None:
    event = parsed(payload)
    assert event.type is T.UNSUPPORTED and event.target_wamid is None


def test_flow_reply_that_is_not_json_is_kept_as_text() -> None:
    event = parsed(builders.inbound_message(PNID, USER, "interactive", {"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": "{not json"}}))
    assert event.details["nfm_reply"] == {"name": "flow", "body": "Sent", "response": "{not json"}


def test_media_without_optional_fields_keeps_what_is_there() -> None:
    event = parsed(builders.inbound_message(PNID, USER, "document", {"id": "42"}))
    assert (event.type, event.media_id, event.text, dict(event.details)) == (
        T.DOCUMENT, "42", None, {"media": {"id": "42"}})


def test_forwarded_flags() -> None:
    frequent = parsed(s.frequently_forwarded(PNID, USER))
    assert (frequent.forwarded, frequent.frequently_forwarded) == (True, True)
    once = parsed(s.forwarded(PNID, USER))
    assert (once.forwarded, once.frequently_forwarded) == (True, False)


def test_referral_and_referred_product_are_details_of_any_type() -> None:
    event = parsed(s.ad_text(PNID, USER))
    assert event.type is T.TEXT and event.details["referral"] == s.REFERRAL
    product = parsed(builders.inbound_text(PNID, USER, "Tem em azul?", extra={"context": {
        "from": "15550783881", "id": "wamid.catalog",
        "referred_product": {"catalog_id": "194836987003835", "product_retailer_id": "vaso-ceramica-p"}}}))
    assert product.context_wamid == "wamid.catalog"
    assert product.details["referred_product"] == {"catalog_id": "194836987003835",
                                                   "product_retailer_id": "vaso-ceramica-p"}


storable_text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1)


@given(storable_text)
@settings(max_examples=100)
def test_any_unicode_caption_survives_the_round_trip(caption: str) -> None:
    event = parsed(s.image(PNID, USER, caption=caption))
    assert event.text == caption and event.details["media"]["caption"] == caption


@given(st.text(min_size=1))
@settings(max_examples=100)
def test_any_text_becomes_storable(value: str) -> None:
    event = parsed(builders.inbound_text(PNID, USER, value))
    if event.type is T.TEXT:
        assert event.text and "\x00" not in event.text
        event.text.encode("utf-8")  # no lone surrogate
    else:
        assert value.replace("\x00", "") == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=30)
_TYPES = ["location", "contacts", "order", "interactive", "edit", "audio", "document", "reaction", "revoke"]


@given(st.sampled_from(_TYPES), json_values, json_values)
@settings(max_examples=300)
def test_any_body_of_any_type_never_raises_and_details_are_json(kind: str, body: Any, referral: Any) -> None:
    message = {"id": "wamid.f", "from": USER, "timestamp": "1750000000", "type": kind, kind: body,
               "referral": referral}
    content = message_content(message)
    json.dumps(content.get("details", {}), allow_nan=False)
    value = {"metadata": {"phone_number_id": PNID}, "messages": [message]}
    [event] = parse_webhook({"entry": [{"changes": [{"field": "messages", "value": value}]}]}, received_at=RECEIVED)
    assert isinstance(event, InboundMessage)
    assert event.is_annotation == (event.target_wamid is not None)


@given(json_values)
def test_clean_json_is_idempotent_and_serializable(value: Any) -> None:
    cleaned = clean_json(value)
    json.dumps(cleaned, allow_nan=False)
    assert clean_json(cleaned) == cleaned
