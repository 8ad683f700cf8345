"""account_update, phone_number_quality_update, user_preferences and unknown fields, on fakes."""

from __future__ import annotations

import pytest

from application.use_cases.whatsapp.send_queued_messages import BANNED_REASON
from domain.channel import WhatsAppAccountBanned
from tests.fake_graph import builders
from tests.fakes_channel import contact
from tests.unit.application.test_whatsapp_process_inbox import ORG, PNID, World

pytestmark = pytest.mark.unit

WABA = builders.DEFAULT_WABA_ID


def world() -> World:
    w = World()
    w.number.waba_id = WABA
    return w


async def test_a_ban_is_stored_on_the_numbers_and_refuses_sends_then_a_reinstatement_clears_it() -> None:
    w = world()
    assert await w.deliver(builders.account_update("DISABLED_UPDATE", ban_state="DISABLE")) == {"account_updates": 1}
    stored = w.store.numbers[w.number.id]
    assert stored.account_status == "banned" and stored.account_status_at is not None
    with pytest.raises(WhatsAppAccountBanned):
        stored.ensure_can_send()
    assert await w.deliver(builders.account_update("DISABLED_UPDATE", ban_state="REINSTATE")) == {
        "account_updates": 1}
    assert w.store.numbers[w.number.id].account_status is None
    w.store.numbers[w.number.id].ensure_can_send()
    assert BANNED_REASON.startswith("Not sent")


async def test_a_restriction_is_stored_and_other_events_change_nothing() -> None:
    w = world()
    await w.deliver(builders.account_update("ACCOUNT_RESTRICTION", restrictions=["RESTRICTED_BIZ_INITIATED_MESSAGING"]))
    assert w.store.numbers[w.number.id].account_status == "restricted"
    assert await w.deliver(builders.account_update("ACCOUNT_VIOLATION", violation="SCAM")) == {"account_updates": 1}
    assert w.store.numbers[w.number.id].account_status == "restricted"


async def test_an_account_update_for_an_unknown_waba_is_unroutable() -> None:
    w = world()
    assert await w.deliver(builders.account_update("DISABLED_UPDATE", ban_state="DISABLE", waba_id="999")) == {
        "unroutable": 1}
    assert w.store.numbers[w.number.id].account_status is None


async def test_throughput_upgrade_raises_the_numbers_pace() -> None:
    w = world()
    assert w.store.numbers[w.number.id].throughput_mps == 80
    assert await w.deliver(builders.quality_update("THROUGHPUT_UPGRADE")) == {"quality_updates": 1}
    assert w.store.numbers[w.number.id].throughput_mps == 1000
    assert await w.deliver(builders.quality_update("FLAGGED", display_phone_number="+1 555-078-3881")) == {
        "quality_updates": 1}
    assert w.store.numbers[w.number.id].quality_rating == "RED"
    assert await w.deliver(builders.quality_update("THROUGHPUT_UPGRADE", display_phone_number="15550000000")) == {
        "unknown_number": 1}


async def test_marketing_stop_opts_out_and_resume_opts_back_in() -> None:
    w = world()
    person = contact(ORG, "5511987654321")
    w.store.contacts[person.id] = person
    assert await w.deliver(builders.user_preference(PNID, "551187654321", "stop")) == {"preferences": 1}
    assert w.store.contacts[person.id].opted_out is True  # found by its ninth-digit spelling
    assert await w.deliver(builders.user_preference(PNID, "5511987654321", "resume")) == {"preferences": 1}
    assert w.store.contacts[person.id].opted_out is False
    assert await w.deliver(builders.user_preference(PNID, "16505551234", "stop")) == {"preferences": 1}
    [stranger] = [c for c in w.store.contacts.values() if c.whatsapp_id == "16505551234"]
    assert stranger.opted_out  # unknown until now: kept, opted out, so no campaign reaches them
    assert await w.deliver(builders.user_preference(PNID, "16505551234", "stop", category="other")) == {
        "ignored": 1}


async def test_any_other_field_is_counted_ignored_and_kept() -> None:
    w = world()
    payload = builders.batch(builders.other_field("security", {"event": "PIN_CHANGED"}),
                             builders.other_field("business_capability_update", {"max_daily_conversation": 1000}),
                             builders.inbound_text(PNID, "16505551234", "hi"))
    assert await w.deliver(payload) == {"ignored": 2, "inbound": 1}
    [row] = w.store.webhook_events.values()
    assert row.status == "processed" and row.body


async def test_template_fields_take_their_own_path_and_are_not_counted_ignored() -> None:
    w = world()
    payload = builders.batch(builders.other_field("message_template_status_update", {"event": "APPROVED"}),
                             builders.inbound_text(PNID, "16505551234", "hi"))
    assert "ignored" not in await w.deliver(payload)
