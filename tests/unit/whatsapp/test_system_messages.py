"""``type: system`` messages parse as identity changes (never as user messages), in every documented shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.whatsapp.webhook_parser import parse_webhook, sender_keys
from domain.messaging import IdentityChange, InboundMessage, SystemKind
from tests.fake_graph import builders

pytestmark = pytest.mark.unit

PNID = "106540352242922"
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# Meta's documented example (webhooks/reference/messages/system), verbatim shape: no contacts array
USER_CHANGED_NUMBER = {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
    "value": {"messaging_product": "whatsapp",
              "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
              "messages": [{"from": "16505551234",
                            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",
                            "timestamp": "1739321024", "type": "system",
                            "system": {"body": "User Sheena Nelson changed from 16505551234 to 12195555358",
                                       "wa_id": "12195555358", "type": "user_changed_number"}}]},
    "field": "messages"}]}]}


def test_metas_user_changed_number_example() -> None:
    [event] = parse_webhook(USER_CHANGED_NUMBER, received_at=NOW)
    assert isinstance(event, IdentityChange)
    assert (event.kind, event.from_wa_id, event.new_wa_id, event.phone_number_id) == (
        SystemKind.USER_CHANGED_NUMBER, "16505551234", "12195555358", PNID)
    assert event.timestamp == datetime.fromtimestamp(1739321024, UTC)
    assert event.body == "User Sheena Nelson changed from 16505551234 to 12195555358"


def test_user_changed_user_id_has_no_from_and_is_found_by_the_previous_bsuid() -> None:
    payload = builders.system_message(PNID, "user_changed_user_id", user_id="US.222", previous_user_id="US.111",
                                      timestamp=1780000000)
    [event] = parse_webhook(payload, received_at=NOW)
    assert isinstance(event, IdentityChange)
    assert (event.kind, event.from_wa_id, event.previous_user_id, event.new_user_id) == (
        SystemKind.USER_CHANGED_USER_ID, None, "US.111", "US.222")
    assert sender_keys(payload) == (f"{PNID}:US.111",)  # its order is kept with the user's messages


@pytest.mark.parametrize(("raw", "kind"), [
    ("customer_changed_number", SystemKind.USER_CHANGED_NUMBER),  # the name before Graph v12
    ("customer_identity_changed", SystemKind.CUSTOMER_IDENTITY_CHANGED),
    ("something_new", SystemKind.OTHER)])
def test_other_system_types_are_identity_changes_too(raw: str, kind: SystemKind) -> None:
    payload = builders.system_message(PNID, raw, from_wa_id="16505551234", body="STOP")
    [event] = parse_webhook(payload, received_at=NOW)
    assert isinstance(event, IdentityChange) and not isinstance(event, InboundMessage)
    assert (event.kind, event.raw_kind, event.body) == (kind, raw, "STOP")


def test_a_system_message_without_system_object_or_id() -> None:
    payload = builders.system_message(PNID, "user_changed_number", from_wa_id="16505551234")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["system"]
    [event] = parse_webhook(payload, received_at=NOW)
    assert isinstance(event, IdentityChange) and event.kind is SystemKind.OTHER and event.new_wa_id is None
    del message["id"]
    assert parse_webhook(payload, received_at=NOW) == []
