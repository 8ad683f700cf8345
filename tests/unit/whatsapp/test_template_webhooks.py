"""The template fields of Meta's webhook read into template changes (and everything else ignored, never raising)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.whatsapp.decoder import MetaWebhookDecoder
from adapters.whatsapp.template_webhooks import parse_template_changes
from application.ports.templates import TemplateChange
from tests.fake_graph import builders
from tests.fake_graph.templates import (
    category_update_webhook,
    quality_update_webhook,
    status_update_webhook,
    template_webhook,
)

pytestmark = pytest.mark.unit
WABA = "102290129340398"


AT = 1764892800  # 2025-12-05T00:00:00Z
WHEN = datetime.fromtimestamp(AT, UTC)


def test_each_template_field_becomes_its_change() -> None:
    assert parse_template_changes(status_update_webhook(WABA, "123", "promo", "REJECTED", reason="INVALID_FORMAT",
                                                        at=AT)) \
        == [TemplateChange(waba_id=WABA, meta_template_id="123", name="promo", language="en_US", status="REJECTED",
                           category="UTILITY", rejected_reason="INVALID_FORMAT", occurred_at=WHEN)]
    assert parse_template_changes(status_update_webhook(WABA, "123", "promo", "APPROVED"))[0].rejected_reason is None
    assert parse_template_changes(status_update_webhook(WABA, "123", "promo", "REINSTATED"))[0].status == "APPROVED"
    flagged = parse_template_changes(status_update_webhook(WABA, "123", "promo", "FLAGGED"))
    assert flagged[0].status is None and flagged[0].category == "UTILITY"  # no status of its own
    assert parse_template_changes(quality_update_webhook(WABA, "123", "promo", "GREEN", "yellow", at=AT)) == [
        TemplateChange(waba_id=WABA, meta_template_id="123", name="promo", language="en_US", quality_score="YELLOW",
                       occurred_at=WHEN)]
    assert parse_template_changes(category_update_webhook(WABA, "123", "promo", "UTILITY", "MARKETING", at=AT)) == [
        TemplateChange(waba_id=WABA, meta_template_id="123", name="promo", language="en_US", category="MARKETING",
                       occurred_at=WHEN)]
    for bad in (None, "soon", -5, True, 10**12):  # no usable time: applied without the staleness check
        payload = status_update_webhook(WABA, "123", "promo", "PAUSED")
        payload["entry"][0]["time"] = bad
        assert parse_template_changes(payload)[0].occurred_at is None


def test_the_decoder_reads_template_fields_and_leaves_messages_to_the_message_parser() -> None:
    decoder = MetaWebhookDecoder("secret")
    status = builders.webhook_body(status_update_webhook(WABA, "9", "promo", "PAUSED"))
    assert [c.status for c in decoder.template_changes(status)] == ["PAUSED"]
    assert decoder.parse(status, datetime.now(UTC)) == []  # no message events in it
    inbound = builders.webhook_body(builders.inbound_text("106540352242922", "16505551234", "template please"))
    assert decoder.template_changes(inbound) == []
    assert decoder.template_changes(b"not json template") == []


@given(value=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=30), inner,
                                                                                       max_size=4), max_leaves=15),
       field=st.sampled_from(["message_template_status_update", "message_template_quality_update",
                              "template_category_update", "messages"]))
def test_any_value_under_a_template_field_never_raises(value: Any, field: str) -> None:
    payload = template_webhook(WABA, field, value) if isinstance(value, dict) else {"entry": [{"changes": value}]}
    changes = parse_template_changes(json.loads(json.dumps(payload)))
    assert all(c.waba_id == WABA and (c.meta_template_id or (c.name and c.language)) for c in changes)
