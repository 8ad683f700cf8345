"""IngestWebhook + ProcessInbox on fakes: the inbox is the queue; effects once, statuses forward only, one
sender's messages in Meta's order, a poison event isolated, reconciliation by our message id."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.messaging.webhooks import EventRef, Outcomes, WebhookApplier
from application.ports.channel import StatusEvent
from application.ports.uow import UnitOfWork
from application.use_cases.whatsapp.ingest_webhook import InvalidWebhookSignature
from domain.channel import RECEIVED, Message, WhatsAppNumber
from domain.conversations import ConversationState
from domain.messaging import InboundMessage, MessageDirection
from tests.bootstrap import bootstrap_test_app
from tests.fake_graph import builders
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import contact, number, outbound
from tests.fixtures import whatsapp_samples as samples

pytestmark = pytest.mark.unit

SECRET = "app-secret"
ORG = uuid4()
PNID = "106540352242922"  # the samples' phone_number_id
USER = "16505551234"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class PoisonousApplier(WebhookApplier):
    """The real applier, except that any batch holding a message with this text fails (an unexpected bug)."""

    def __init__(self, poison: str, **parts: Any) -> None:
        super().__init__(**parts)
        self.poison, self.attempts = poison, 0

    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber], refs: Sequence[EventRef],
                    now: datetime) -> Outcomes:
        self.attempts += 1
        if any(isinstance(r.event, InboundMessage) and r.event.text == self.poison for r in refs):
            raise ValueError("poison")
        return await super().apply(uow, numbers, refs, now)


class World:
    def __init__(self, *, poison: str | None = None, batch_size: int = 200) -> None:
        self.clock = FakeClock(T0)
        self.number = number(ORG, phone_number_id=PNID)
        self.factory = FakeUnitOfWorkFactory(FakeStore(numbers={self.number.id: self.number}))
        self.app = bootstrap_test_app(uow=self.factory, clock=self.clock, whatsapp_app_secret=SECRET,
                                      worker_inbox_batch=batch_size, worker_heartbeat_seconds=30)
        self.decoder = self.app.webhook_decoder
        if poison:
            self.app.replace("webhook_applier", PoisonousApplier(
                poison, router=self.app.inbound_router, statuses=self.app.status_recorder))
        self.applier = self.app.webhook_applier
        self.ingest = self.app.ingest_webhook
        self.process = self.app.process_inbox

    @property
    def store(self) -> FakeStore:
        return self.factory.store

    async def store_delivery(self, payload: dict[str, Any] | bytes) -> UUID | None:
        body = builders.webhook_body(payload)
        return await self.ingest.execute(body, builders.sign(SECRET, body))

    async def deliver(self, payload: dict[str, Any] | bytes) -> dict[str, int] | None:
        """Ingest a signed delivery and process the inbox; its summary, or None for an identical redelivery."""
        webhook_id = await self.store_delivery(payload)
        if webhook_id is None:
            return None
        while (await self.process.execute()).claimed:
            pass
        return self.store.webhook_events[webhook_id].summary

    def inbound(self) -> list[Message]:
        return sorted((m for m in self.store.messages.values() if m.direction is MessageDirection.INBOUND),
                      key=lambda m: (m.occurred_at, self.store.message_seq[m.id]))

    def queue_outbound(self, **fields: Any) -> Message:
        person = next(iter(self.store.contacts.values()), None) or contact(ORG, USER)
        self.store.contacts[person.id] = person
        message = outbound(self.number, person, **fields)
        self.store.messages[message.id] = message
        return message


# --------------------------------------------------------------------------- ingest


async def test_ingest_stores_the_raw_body_with_its_senders_and_nothing_else() -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    webhook_id = await world.ingest.execute(body, builders.sign(SECRET, body))
    assert webhook_id is not None
    row = world.store.webhook_events[webhook_id]
    assert (row.body, row.body_sha256, row.status, row.received_at, row.sender_keys) == (
        body, hashlib.sha256(body).hexdigest(), "pending", T0, (f"{PNID}:{USER}",))
    assert world.store.jobs.jobs == [] and world.factory.commits == 0  # the inbox is the queue: no job row


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "md5=abc"])
async def test_ingest_refuses_bad_signatures_and_stores_nothing(signature: str | None) -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body, signature)
    assert world.store.webhook_events == {}


async def test_ingest_refuses_a_signature_over_other_bytes() -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body + b" ", builders.sign(SECRET, body))
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body, builders.sign("another-secret", body))
    assert world.store.webhook_events == {}


async def test_statuses_name_no_sender_so_they_never_wait_for_one() -> None:
    world = World()
    webhook_id = await world.store_delivery(builders.status_update(PNID, "wamid.x", "read", USER))
    assert webhook_id is not None and world.store.webhook_events[webhook_id].sender_keys == ()


async def test_the_raw_sample_text_verifies_as_received() -> None:
    world = World()
    assert await world.deliver(samples.W1_INBOUND_TEXT_RAW.encode()) == {"inbound": 1}


# --------------------------------------------------------------------------- inbound


async def test_inbound_text_creates_contact_message_and_opens_the_window() -> None:
    world = World()
    assert await world.deliver(samples.W1_INBOUND_TEXT) == {"inbound": 1}
    [person] = world.store.contacts.values()
    assert (person.whatsapp_id, person.name, person.organization_id) == (USER, "Sheena Nelson", ORG)
    [message] = world.inbound()
    assert (message.status, message.type, message.source, message.contact_id, message.number_id) == (
        RECEIVED, "text", "whatsapp", person.id, world.number.id)
    assert message.wamid == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.content == {"text": "Does it come in another color?"}
    assert message.occurred_at == at(1749416383)
    [conversation] = world.store.conversations.values()
    assert (conversation.contact_id, conversation.last_inbound_at) == (person.id, at(1749416383))
    [row] = world.store.webhook_events.values()
    assert (row.status, row.summary, row.processed_at, row.attempts, row.lease_until) == (
        "processed", {"inbound": 1}, T0, 1, None)


async def test_a_known_contact_without_a_name_takes_the_profile_name_and_keeps_a_given_one() -> None:
    world = World()
    nameless, named = contact(ORG, USER), contact(ORG, "5511988887777")
    named.name = "Maria (VIP)"
    world.store.contacts.update({nameless.id: nameless, named.id: named})
    payload = builders.batch(builders.inbound_text(PNID, USER, "a", name="Sheena"),
                             builders.inbound_text(PNID, "5511988887777", "b", name="Maria"))
    assert await world.deliver(payload) == {"inbound": 2}
    assert (world.store.contacts[nameless.id].name, world.store.contacts[named.id].name) == ("Sheena", "Maria (VIP)")
    assert len(world.store.contacts) == 2


async def test_a_webhook_claimed_again_after_a_crash_has_its_effects_once() -> None:
    world = World()
    webhook_id = await world.store_delivery(samples.W1_INBOUND_TEXT)
    assert webhook_id is not None
    async with world.factory() as uow:  # a worker claimed it and died before marking it
        await uow.webhook_events.claim(limit=10, now=T0, lease_until=T0 + timedelta(seconds=30))
        await uow.commit()
    assert (await world.process.execute()).claimed == 0  # leased to the dead worker
    world.clock.advance(seconds=31)
    assert (await world.process.execute()).claimed == 1
    assert len(world.inbound()) == 1
    row = world.store.webhook_events[webhook_id]
    assert (row.status, row.attempts) == ("processed", 2)
    # an earlier partial application (the effects committed, the mark not) is not applied twice either
    row.status, row.lease_until = "pending", None
    assert (await world.process.execute()).claimed == 1
    assert len(world.inbound()) == 1 and row.summary == {"inbound": 1}
    assert world.store.webhook_events[webhook_id].summary == {"duplicates": 1}


async def test_identical_redeliveries_are_dropped_at_ingest() -> None:
    world = World()
    assert await world.deliver(samples.W1_INBOUND_TEXT) == {"inbound": 1}
    for _ in range(4):
        assert await world.deliver(samples.W1_INBOUND_TEXT) is None
    assert len(world.store.webhook_events) == 1 and len(world.inbound()) == 1


async def test_the_same_wamid_in_another_delivery_is_a_duplicate() -> None:
    world = World()
    payload = builders.inbound_text(PNID, USER, "hello", wamid="wamid.same", timestamp=1749416383)
    assert await world.deliver(payload) == {"inbound": 1}
    rebatched = builders.batch(payload, builders.inbound_text(PNID, USER, "second", timestamp=1749416390))
    assert await world.deliver(rebatched) == {"duplicates": 1, "inbound": 1}
    assert [m.content["text"] for m in world.inbound()] == ["hello", "second"]
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1749416390)


async def test_an_older_inbound_never_moves_the_window_back() -> None:
    world = World()
    await world.deliver(builders.inbound_text(PNID, USER, "new", timestamp=1749416390))
    await world.deliver(builders.inbound_text(PNID, USER, "old", timestamp=1749416000))
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1749416390)


async def test_one_batch_applies_each_senders_messages_in_metas_order_whatever_the_arrival_order() -> None:
    world = World()
    order = [3, 1, 4, 2]  # arrival order; the timestamps say 1, 2, 3, 4
    for i in order:
        await world.store_delivery(builders.inbound_text(PNID, USER, f"m{i}", timestamp=1749416000 + i))
        await world.store_delivery(builders.inbound_text(PNID, "5511988887777", f"o{i}", timestamp=1749416000 + i))
    assert (await world.process.execute()).claimed == 8
    stored = sorted(world.inbound(), key=lambda m: world.store.message_seq[m.id])
    assert [m.content["text"] for m in stored if m.content["text"].startswith("m")] == ["m1", "m2", "m3", "m4"]
    assert [m.content["text"] for m in stored if m.content["text"].startswith("o")] == ["o1", "o2", "o3", "o4"]


async def test_a_senders_later_webhook_waits_while_an_earlier_one_is_leased() -> None:
    world = World()
    first = await world.store_delivery(builders.inbound_text(PNID, USER, "first", timestamp=1749416001))
    async with world.factory() as uow:  # another worker holds the sender's first webhook
        [held] = await uow.webhook_events.claim(limit=1, now=T0, lease_until=T0 + timedelta(seconds=30))
        await uow.commit()
    assert held.id == first
    await world.store_delivery(builders.inbound_text(PNID, USER, "second", timestamp=1749416002))
    await world.store_delivery(builders.inbound_text(PNID, "5511988887777", "other", timestamp=1749416003))
    assert (await world.process.execute()).claimed == 1  # only the other sender's
    assert [m.content["text"] for m in world.inbound()] == ["other"]
    world.clock.advance(seconds=31)  # the holder died: its lease ran out, both are applied in order
    assert (await world.process.execute()).claimed == 2
    assert [m.content["text"] for m in world.inbound()] == ["first", "second", "other"]


@pytest.mark.parametrize(("sample", "expected"), [
    (samples.W3_BUTTON_REPLY, ("interactive", {
        "text": "Cancel", "reply_id": "cancel-button", "button_reply": {"id": "cancel-button", "title": "Cancel"},
        "context_wamid": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"})),
    (samples.W4_LIST_REPLY, ("interactive", {
        "text": "Priority Mail Express", "reply_id": "priority_express",
        "list_reply": {"id": "priority_express", "title": "Priority Mail Express", "description": "Next Day to 2 Days"},
        "context_wamid": "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="})),
    (samples.W12_UNSUPPORTED, ("unsupported", {"errors": [
        {"code": 131051, "title": "Message type unknown", "details": "Message type is currently not supported."}]})),
    (samples.W6_INBOUND_IMAGE, ("image", {"media_id": "65463453", "media": {
        "id": "65463453", "mime_type": "image/jpeg", "sha256": "4654+8g="}})),
], ids=["w3", "w4", "w12", "w6"])
async def test_samples_are_stored_with_their_type_and_content(sample: dict, expected: tuple) -> None:  # type: ignore[type-arg]
    world = World()
    world.number.phone_number_id = sample["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    assert await world.deliver(sample) == {"inbound": 1}
    [message] = world.inbound()
    assert (message.type, message.content) == expected


async def test_a_username_user_without_phone_becomes_a_contact_known_by_bsuid() -> None:
    world = World()
    assert await world.deliver(samples.W13_USERNAME_USER) == {"inbound": 1}
    [person] = world.store.contacts.values()
    assert (person.whatsapp_id, person.bsuid, person.name) == (None, "US.13491208655302741918", "Sheena Nelson")
    [message] = world.inbound()
    assert message.contact_id == person.id and message.content == {"text": "Does it come in another color?"}


async def test_unknown_phone_number_id_is_recorded_unroutable() -> None:
    world = World()
    payload = builders.batch(builders.inbound_text("999000999", USER, "hi"),
                             builders.inbound_text("999000999", USER, "again"),
                             builders.inbound_text(PNID, USER, "mine"))
    assert await world.deliver(payload) == {"unroutable": 2, "inbound": 1}
    assert [m.content["text"] for m in world.inbound()] == ["mine"]


async def test_value_level_errors_are_counted() -> None:
    world = World()
    assert await world.deliver(samples.W11_VALUE_ERROR) == {"errors": 1}


async def test_unparseable_bodies_are_processed_with_nothing_to_do() -> None:
    world = World()
    assert await world.deliver(b"this is not json") == {}
    assert next(iter(world.store.webhook_events.values())).status == "processed"


# --------------------------------------------------------------------------- a poison event stays alone


async def test_a_poison_message_fails_alone_and_the_rest_of_its_batch_is_applied() -> None:
    world = World(poison="boom")
    mixed = builders.batch(builders.inbound_text(PNID, USER, "fine", timestamp=1749416001),
                           builders.inbound_text(PNID, "5511988887777", "boom", timestamp=1749416002))
    mixed_id = await world.store_delivery(mixed)
    others = [await world.store_delivery(builders.inbound_text(PNID, f"55119{i:08d}", f"ok {i}")) for i in range(5)]
    batch = await world.process.execute()
    assert (batch.claimed, batch.events, batch.failed) == (6, 7, 1)
    assert sorted(m.content["text"] for m in world.inbound()) == ["fine", *(f"ok {i}" for i in range(5))]
    row = world.store.webhook_events[mixed_id]  # type: ignore[index]
    assert (row.status, row.summary) == ("processed", {"inbound": 1, "failed": 1})
    assert row.last_error is not None and "ValueError: poison" in row.last_error
    assert all(world.store.webhook_events[i].summary == {"inbound": 1} for i in others)  # type: ignore[index]


async def test_a_webhook_whose_every_event_fails_is_dead_and_never_claimed_again() -> None:
    world = World(poison="boom")
    webhook_id = await world.store_delivery(builders.inbound_text(PNID, USER, "boom"))
    assert (await world.process.execute()).failed == 1
    row = world.store.webhook_events[webhook_id]  # type: ignore[index]
    assert (row.status, row.summary) == ("dead", {"failed": 1})
    world.clock.advance(minutes=5)
    assert (await world.process.execute()).claimed == 0


# --------------------------------------------------------------------------- statuses


async def test_statuses_out_of_order_end_read_with_one_history_entry_each() -> None:
    world = World()
    message = world.queue_outbound(status="sent", wamid="wamid.out1", sent_at=at(100))
    outcomes = []
    for status, stamp in (("read", 300), ("sent", 100), ("delivered", 200), ("read", 300), ("delivered", 200)):
        outcomes.append(await world.deliver(builders.status_update(PNID, "wamid.out1", status, USER,
                                                                   timestamp=stamp)))
    stored = world.store.messages[message.id]
    assert (stored.status, stored.sent_at, stored.delivered_at, stored.read_at, stored.confirmed_at) == (
        "read", at(100), at(200), at(300), T0)
    assert world.store.history(message.id) == [StatusEvent(status="read", occurred_at=at(300)),
                                              StatusEvent(status="sent", occurred_at=at(100)),
                                              StatusEvent(status="delivered", occurred_at=at(200))]
    assert outcomes == [{"statuses": 1}, {"statuses": 1}, {"statuses": 1}, None, None]


async def test_many_statuses_of_one_message_in_one_batch_end_at_the_highest() -> None:
    world = World()
    message = world.queue_outbound(status="sent", wamid="wamid.batched", sent_at=at(100))
    payload = builders.batch(*(builders.status_update(PNID, "wamid.batched", s, USER, timestamp=t)
                               for s, t in (("read", 300), ("delivered", 200), ("read", 300))))
    assert await world.deliver(payload) == {"statuses": 2, "duplicates": 1}
    stored = world.store.messages[message.id]
    assert (stored.status, stored.delivered_at, stored.read_at) == ("read", at(200), at(300))


async def test_failed_status_is_terminal_and_keeps_its_error() -> None:
    world = World()
    message = world.queue_outbound(status="sent", wamid="wamid.out2")
    failed = builders.status_update(PNID, "wamid.out2", "failed", USER, timestamp=200,
                                    errors=[(131049, "Not delivered to maintain healthy ecosystem engagement.")])
    assert await world.deliver(failed) == {"statuses": 1}
    assert await world.deliver(builders.status_update(PNID, "wamid.out2", "read", USER, timestamp=300)) == {
        "statuses": 1}  # recorded in the history, status unchanged
    stored = world.store.messages[message.id]
    assert (stored.status, stored.error_code, stored.error_title, stored.failed_at) == (
        "failed", 131049, "Not delivered to maintain healthy ecosystem engagement.", at(200))
    assert [e.status for e in world.store.history(message.id)] == ["failed", "read"]


async def test_a_lost_send_response_is_reconciled_by_our_message_id() -> None:
    world = World()
    message = world.queue_outbound(send_claimed_at=T0, attempts=1)  # queued, no wamid: the answer was lost
    payload = builders.status_update(PNID, "wamid.meta", "delivered", USER, tracking=str(message.id), timestamp=500)
    assert await world.deliver(payload) == {"statuses": 1}
    stored = world.store.messages[message.id]
    assert (stored.wamid, stored.status, stored.delivered_at) == ("wamid.meta", "delivered", at(500))
    assert await world.deliver(builders.status_update(PNID, "wamid.meta", "read", USER, timestamp=600)) == {
        "statuses": 1}  # later webhooks find it by wamid alone
    assert world.store.messages[message.id].status == "read"


async def test_statuses_of_unknown_or_foreign_messages_are_counted_not_applied() -> None:
    world = World()
    other_org = number(uuid4(), phone_number_id="555")
    foreign = outbound(other_org, contact(other_org.organization_id), status="sent", wamid="wamid.foreign")
    world.store.numbers[other_org.id] = other_org
    world.store.messages[foreign.id] = foreign
    payload = builders.batch(
        builders.status_update(PNID, "wamid.nobody", "delivered", USER),
        builders.status_update(PNID, "wamid.foreign", "read", USER),  # routed to our org: invisible there
        builders.status_update(PNID, "wamid.x", "delivered", USER, tracking="not-a-uuid"),
        builders.status_update(PNID, "wamid.y", "delivered", USER, tracking=str(foreign.id)),
        builders.status_update(PNID, "wamid.z", "deleted", USER))
    assert await world.deliver(payload) == {"unknown_message": 4, "ignored": 1}
    assert world.store.messages[foreign.id].status == "sent" and world.store.status_events == []


async def test_statuses_never_touch_inbound_messages() -> None:
    world = World()
    await world.deliver(builders.inbound_text(PNID, USER, "hi", wamid="wamid.in"))
    assert await world.deliver(builders.status_update(PNID, "wamid.in", "read", USER)) == {"unknown_message": 1}
    assert world.inbound()[0].status == RECEIVED


# --------------------------------------------------------------------------- batches


async def test_a_batch_of_entries_changes_and_messages_is_all_handled() -> None:
    world = World()
    sent = world.queue_outbound(status="sent", wamid="wamid.batch-out")
    two_messages = builders.inbound_text(PNID, "5511988887777", "first", timestamp=1749416001)
    second = builders.inbound_text(PNID, "5511988887777", "second", timestamp=1749416002)
    two_messages["entry"][0]["changes"][0]["value"]["messages"] += second["entry"][0]["changes"][0]["value"][
        "messages"]
    payload = builders.batch(
        two_messages,
        builders.inbound_button_reply(PNID, "5511977776666", "yes", "Yes", waba_id="222"),
        builders.status_update(PNID, "wamid.batch-out", "delivered", USER, waba_id="222"),
        builders.value_error(PNID, 130429, "Rate limit hit"))
    assert len(payload["entry"]) == 2 and sum(len(e["changes"]) for e in payload["entry"]) == 4
    assert await world.deliver(json.dumps(payload).encode()) == {"inbound": 3, "statuses": 1, "errors": 1}
    assert [(m.content.get("text"), m.type) for m in world.inbound()] == [
        ("first", "text"), ("second", "text"), ("Yes", "interactive")]
    assert sorted(c.whatsapp_id for c in world.store.contacts.values()) == [
        USER, "5511977776666", "5511988887777"]
    assert world.store.messages[sent.id].status == "delivered"
    assert len(world.store.conversations) == 2


async def test_a_large_backlog_is_applied_in_batches_of_the_configured_size() -> None:
    world = World(batch_size=7)
    for i in range(20):
        await world.store_delivery(builders.inbound_text(PNID, f"55119{i:08d}", f"hi {i}"))
    claimed = []
    while (batch := await world.process.execute()).claimed:
        claimed.append(batch.claimed)
    assert claimed == [7, 7, 6] and len(world.inbound()) == 20
    assert {r.status for r in world.store.webhook_events.values()} == {"processed"}


SAMPLE_EFFECTS = {
    "W1_INBOUND_TEXT": {"inbound": 1}, "W2_INBOUND_REPLY": {"inbound": 1}, "W3_BUTTON_REPLY": {"inbound": 1},
    "W4_LIST_REPLY": {"inbound": 1}, "W5_TEMPLATE_QUICK_REPLY": {"inbound": 1}, "W6_INBOUND_IMAGE": {"inbound": 1},
    "W7_STATUS_SENT": {"statuses": 1}, "W8_STATUS_DELIVERED": {"statuses": 1}, "W9_STATUS_READ": {"statuses": 1},
    "W10_STATUS_FAILED": {"statuses": 1}, "W11_VALUE_ERROR": {"errors": 1}, "W12_UNSUPPORTED": {"inbound": 1},
    "W13_USERNAME_USER": {"inbound": 1},
}
SAMPLE_STATUS = {"W7_STATUS_SENT": ("sent", None), "W8_STATUS_DELIVERED": ("delivered", None),
                 "W9_STATUS_READ": ("read", None), "W10_STATUS_FAILED": ("failed", 131049)}


@pytest.mark.parametrize("name", list(SAMPLE_EFFECTS))
async def test_each_raw_sample_has_the_expected_effect(name: str) -> None:
    """Every real sample's exact bytes through signature check, storage and processing."""
    world = World()
    sample = getattr(samples, name)
    value = sample["entry"][0]["changes"][0]["value"]
    world.number.phone_number_id = value["metadata"]["phone_number_id"]
    tracked = world.queue_outbound(wamid=value["statuses"][0]["id"]) if name in SAMPLE_STATUS else None
    assert await world.deliver(getattr(samples, name + "_RAW").encode()) == SAMPLE_EFFECTS[name]
    if tracked is not None:
        status, code = SAMPLE_STATUS[name]
        stored = world.store.messages[tracked.id]
        assert (stored.status, stored.error_code) == (status, code)
        assert [e.status for e in world.store.history(tracked.id)] == [status]
    if SAMPLE_EFFECTS[name] == {"inbound": 1}:
        [message] = world.inbound()
        assert message.wamid == value["messages"][0]["id"]
        person = world.store.contacts[message.contact_id]  # type: ignore[index]
        assert person.whatsapp_id == value["messages"][0].get("from")
        assert person.bsuid == (value["messages"][0].get("from_user_id") or value["contacts"][0].get("user_id"))


# --------------------------------------------------------------------------- the inbox


async def test_inbound_counts_unread_once_per_new_message_and_reopens_a_closed_conversation() -> None:
    world = World()
    first, second = builders.new_wamid(), builders.new_wamid()
    await world.deliver(builders.inbound_text(PNID, USER, "one", wamid=first, timestamp=1_700_000_000))
    await world.deliver(builders.inbound_text(PNID, USER, "two", wamid=second, timestamp=1_700_000_005))
    await world.deliver(builders.inbound_text(PNID, USER, "two", wamid=second, timestamp=1_700_000_006))  # again
    [conversation] = world.store.conversations.values()
    assert (conversation.unread_count, conversation.last_message_at) == (2, at(1_700_000_005))
    conversation.state = ConversationState.CLOSED
    await world.deliver(builders.inbound_text(PNID, USER, "three", timestamp=1_700_000_010))
    [conversation] = world.store.conversations.values()
    assert (conversation.state, conversation.unread_count) == (ConversationState.BOT, 3)
