"""IngestWebhook + ProcessWebhook on fakes: effects once, statuses forward only, reconciliation by our message id."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from adapters.whatsapp.decoder import MetaWebhookDecoder
from application.ports.channel import StatusEvent
from application.use_cases.whatsapp.ingest_webhook import IngestWebhook, InvalidWebhookSignature
from application.use_cases.whatsapp.jobs import PROCESS_WEBHOOK_JOB
from application.use_cases.whatsapp.process_webhook import ProcessWebhook
from domain.channel import RECEIVED, Message
from domain.messaging import InboundMessage, MessageDirection
from tests.fake_graph import builders
from tests.fakes import T0, FakeClock
from tests.fakes_channel import ChannelStore, FakeChannelUnitOfWorkFactory, contact, number, outbound
from tests.fixtures import whatsapp_samples as samples

pytestmark = pytest.mark.unit

SECRET = "app-secret"
ORG = uuid4()
PNID = "106540352242922"  # the samples' phone_number_id
USER = "16505551234"


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class World:
    def __init__(self) -> None:
        self.clock = FakeClock(T0)
        self.number = number(ORG, phone_number_id=PNID)
        self.factory = FakeChannelUnitOfWorkFactory(ChannelStore(numbers={self.number.id: self.number}))
        self.decoder = MetaWebhookDecoder(SECRET)
        self.inbound_hooked: list[str] = []
        self.status_hooked: list[tuple[UUID, str]] = []

        async def inbound_hook(_uow, _number, message: Message, event: InboundMessage) -> None:  # type: ignore[no-untyped-def]
            assert message.wamid == event.wamid
            self.inbound_hooked.append(event.wamid)

        async def status_hook(_uow, message: Message) -> None:  # type: ignore[no-untyped-def]
            self.status_hooked.append((message.id, message.status))

        self.ingest = IngestWebhook(uow=self.factory, decoder=self.decoder, clock=self.clock)
        self.process = ProcessWebhook(uow=self.factory, decoder=self.decoder, clock=self.clock,
                                      inbound_hooks=[inbound_hook], status_hooks=[status_hook])

    @property
    def store(self) -> ChannelStore:
        return self.factory.store

    async def deliver(self, payload: dict[str, Any] | bytes) -> dict[str, int] | None:
        """Ingest a signed delivery and run its processing job; None for an identical redelivery."""
        body = builders.webhook_body(payload)
        event_id = await self.ingest.execute(body, builders.sign(SECRET, body))
        if event_id is None:
            return None
        jobs = self.store.jobs.take(PROCESS_WEBHOOK_JOB)
        assert [job.payload for job in jobs] == [{"event_id": str(event_id)}]
        return await self.process.execute(event_id)

    def inbound(self) -> list[Message]:
        return sorted((m for m in self.store.messages.values() if m.direction is MessageDirection.INBOUND),
                      key=lambda m: m.occurred_at)

    def queue_outbound(self, **fields: Any) -> Message:
        person = next(iter(self.store.contacts.values()), None) or contact(ORG, USER)
        self.store.contacts[person.id] = person
        message = outbound(self.number, person, **fields)
        self.store.messages[message.id] = message
        return message


# --------------------------------------------------------------------------- ingest


async def test_ingest_stores_the_raw_body_and_enqueues_in_one_commit() -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    event_id = await world.ingest.execute(body, builders.sign(SECRET, body))
    assert event_id is not None and world.factory.commits == 1
    row = world.store.webhook_events[event_id]
    assert (row.body, row.body_sha256, row.status, row.received_at) == (
        body, hashlib.sha256(body).hexdigest(), "pending", T0)
    [job] = world.store.jobs.pending()
    assert (job.entrypoint, job.payload, job.dedupe_key) == (
        PROCESS_WEBHOOK_JOB, {"event_id": str(event_id)}, f"webhook:{event_id}")


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "md5=abc"])
async def test_ingest_refuses_bad_signatures_and_stores_nothing(signature: str | None) -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body, signature)
    assert world.store.webhook_events == {} and world.store.jobs.jobs == [] and world.factory.commits == 0


async def test_ingest_refuses_a_signature_over_other_bytes() -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body + b" ", builders.sign(SECRET, body))
    with pytest.raises(InvalidWebhookSignature):
        await world.ingest.execute(body, builders.sign("another-secret", body))
    assert world.store.webhook_events == {}


async def test_the_raw_sample_text_verifies_as_received() -> None:
    world = World()
    raw = samples.W1_INBOUND_TEXT_RAW.encode()
    assert await world.deliver(raw) == {"inbound": 1}


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
    assert world.inbound_hooked == [message.wamid]
    [row] = world.store.webhook_events.values()
    assert (row.status, row.summary, row.processed_at, row.attempts) == ("processed", {"inbound": 1}, T0, 1)


async def test_the_same_event_processed_twice_has_its_effects_once() -> None:
    world = World()
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    event_id = await world.ingest.execute(body, builders.sign(SECRET, body))
    assert event_id is not None
    assert await world.process.execute(event_id) == {"inbound": 1}
    assert await world.process.execute(event_id) == {}  # a retried job after success
    assert len(world.inbound()) == 1 and world.inbound_hooked == [world.inbound()[0].wamid]


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
    assert len(world.inbound_hooked) == 2
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1749416390)


async def test_an_older_inbound_never_moves_the_window_back() -> None:
    world = World()
    await world.deliver(builders.inbound_text(PNID, USER, "new", timestamp=1749416390))
    await world.deliver(builders.inbound_text(PNID, USER, "old", timestamp=1749416000))
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1749416390)


@pytest.mark.parametrize(("sample", "expected"), [
    (samples.W3_BUTTON_REPLY, ("interactive", {
        "text": "Cancel", "reply_id": "cancel-button",
        "context_wamid": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"})),
    (samples.W4_LIST_REPLY, ("interactive", {
        "text": "Priority Mail Express", "reply_id": "priority_express",
        "context_wamid": "wamid.HBgLMTQxMjU1NTA4MjkVAgASGBQzQUNCNjk5RDUwNUZGMUZEM0VBRAA="})),
    (samples.W12_UNSUPPORTED, ("unsupported", {})),
    (samples.W6_INBOUND_IMAGE, ("image", {"media_id": "65463453"})),
], ids=["w3", "w4", "w12", "w6"])
async def test_samples_are_stored_with_their_type_and_content(sample: dict, expected: tuple) -> None:  # type: ignore[type-arg]
    world = World()
    pnid = sample["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"]
    world.number.phone_number_id = pnid
    assert await world.deliver(sample) == {"inbound": 1}
    [message] = world.inbound()
    assert (message.type, message.content) == expected


async def test_a_username_user_without_phone_is_recorded_as_skipped() -> None:
    world = World()
    assert await world.deliver(samples.W13_USERNAME_USER) == {"skipped_no_phone": 1}
    assert world.inbound() == [] and world.store.contacts == {}
    assert next(iter(world.store.webhook_events.values())).status == "processed"


async def test_unknown_phone_number_id_is_recorded_unroutable() -> None:
    world = World()
    payload = builders.batch(builders.inbound_text("999000999", USER, "hi"),
                             builders.inbound_text("999000999", USER, "again"),
                             builders.inbound_text(PNID, USER, "mine"))
    assert await world.deliver(payload) == {"unroutable": 2, "inbound": 1}
    assert [m.content["text"] for m in world.inbound()] == ["mine"]
    [row] = world.store.webhook_events.values()
    assert (row.status, row.summary) == ("processed", {"unroutable": 2, "inbound": 1})


async def test_value_level_errors_are_counted() -> None:
    world = World()
    assert await world.deliver(samples.W11_VALUE_ERROR) == {"errors": 1}


async def test_unparseable_bodies_are_processed_with_nothing_to_do() -> None:
    world = World()
    body = b"this is not json"
    event_id = await world.ingest.execute(body, builders.sign(SECRET, body))
    assert event_id is not None and await world.process.execute(event_id) == {}
    assert world.store.webhook_events[event_id].status == "processed"


# --------------------------------------------------------------------------- statuses


async def test_statuses_out_of_order_end_read_with_one_history_entry_each() -> None:
    world = World()
    message = world.queue_outbound(status="sent", wamid="wamid.out1", sent_at=at(100))
    for status, stamp in (("read", 300), ("sent", 100), ("delivered", 200), ("read", 300), ("delivered", 200)):
        await world.deliver(builders.status_update(PNID, "wamid.out1", status, USER, timestamp=stamp))
    stored = world.store.messages[message.id]
    assert (stored.status, stored.sent_at, stored.delivered_at, stored.read_at) == (
        "read", at(100), at(200), at(300))
    assert world.store.history(message.id) == [StatusEvent(status="read", occurred_at=at(300)),
                                              StatusEvent(status="sent", occurred_at=at(100)),
                                              StatusEvent(status="delivered", occurred_at=at(200))]
    assert world.status_hooked == [(message.id, "read")]  # only the change fires hooks


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
    assert world.status_hooked == [(message.id, "failed")]


async def test_a_lost_send_response_is_reconciled_by_our_message_id() -> None:
    world = World()
    message = world.queue_outbound(send_claimed_at=T0, attempts=1)  # queued, no wamid: the answer was lost
    payload = builders.status_update(PNID, "wamid.meta", "delivered", USER, tracking=str(message.id), timestamp=500)
    assert await world.deliver(payload) == {"statuses": 1}
    stored = world.store.messages[message.id]
    assert (stored.wamid, stored.status, stored.delivered_at) == ("wamid.meta", "delivered", at(500))
    # later webhooks find it by wamid alone
    assert await world.deliver(builders.status_update(PNID, "wamid.meta", "read", USER, timestamp=600)) == {
        "statuses": 1}
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


SAMPLE_EFFECTS = {
    "W1_INBOUND_TEXT": {"inbound": 1}, "W2_INBOUND_REPLY": {"inbound": 1}, "W3_BUTTON_REPLY": {"inbound": 1},
    "W4_LIST_REPLY": {"inbound": 1}, "W5_TEMPLATE_QUICK_REPLY": {"inbound": 1}, "W6_INBOUND_IMAGE": {"inbound": 1},
    "W7_STATUS_SENT": {"statuses": 1}, "W8_STATUS_DELIVERED": {"statuses": 1}, "W9_STATUS_READ": {"statuses": 1},
    "W10_STATUS_FAILED": {"statuses": 1}, "W11_VALUE_ERROR": {"errors": 1}, "W12_UNSUPPORTED": {"inbound": 1},
    "W13_USERNAME_USER": {"skipped_no_phone": 1},
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
    tracked = None
    if name in SAMPLE_STATUS:
        tracked = world.queue_outbound(wamid=value["statuses"][0]["id"])
    assert await world.deliver(getattr(samples, name + "_RAW").encode()) == SAMPLE_EFFECTS[name]
    if tracked is not None:
        status, code = SAMPLE_STATUS[name]
        stored = world.store.messages[tracked.id]
        assert (stored.status, stored.error_code) == (status, code)
        assert [e.status for e in world.store.history(tracked.id)] == [status]
    if SAMPLE_EFFECTS[name] == {"inbound": 1}:
        [message] = world.inbound()
        assert message.wamid == value["messages"][0]["id"]
        assert world.store.contacts[message.contact_id].whatsapp_id == value["messages"][0]["from"]


# --------------------------------------------------------------------------- stalled webhooks get their job again


async def test_a_webhook_pending_long_after_it_arrived_is_requeued_once_and_then_processed() -> None:
    from datetime import timedelta

    from application.use_cases.whatsapp.requeue_webhooks import RequeueStalledWebhooks

    world = World()
    requeue = RequeueStalledWebhooks(uow=world.factory, clock=world.clock, stalled_after=timedelta(minutes=2))
    body = builders.webhook_body(samples.W1_INBOUND_TEXT)
    event_id = await world.ingest.execute(body, builders.sign(SECRET, body))
    assert event_id is not None
    world.clock.advance(minutes=5)
    assert await requeue.execute() == 0  # its job is still queued: the dedupe key leaves it alone
    world.store.jobs.take(PROCESS_WEBHOOK_JOB)  # the job went missing without processing the event
    world.clock.advance(seconds=30)
    recent = builders.webhook_body(builders.inbound_text(PNID, USER, "just now"))
    recent_id = await world.ingest.execute(recent, builders.sign(SECRET, recent))
    world.store.jobs.take(PROCESS_WEBHOOK_JOB)  # also jobless, but only just received: not stalled yet
    assert await requeue.execute() == 1
    [job] = world.store.jobs.take(PROCESS_WEBHOOK_JOB)
    assert (job.payload, job.dedupe_key) == ({"event_id": str(event_id)}, f"webhook:{event_id}")
    await world.process.execute(event_id)
    assert world.store.webhook_events[event_id].status == "processed"
    assert [m.wamid for m in world.inbound()] == [samples.W1_INBOUND_TEXT["entry"][0]["changes"][0]["value"]
                                                 ["messages"][0]["id"]]
    world.clock.advance(minutes=5)
    assert await requeue.execute() == 1  # now the recent one is stalled; the processed one never again
    [job] = world.store.jobs.take(PROCESS_WEBHOOK_JOB)
    assert job.payload == {"event_id": str(recent_id)}


async def test_an_event_is_marked_processed_in_the_same_transaction_as_its_effects() -> None:
    world = World()
    summary = await world.deliver(samples.W1_INBOUND_TEXT)
    assert summary == {"inbound": 1}
    # one commit to store it, one for the organization's effects together with the mark: no window in which the
    # effects are committed and the event still looks pending (or the other way round)
    assert world.factory.commits == 2
    [row] = world.store.webhook_events.values()
    assert (row.status, row.summary) == ("processed", {"inbound": 1})
