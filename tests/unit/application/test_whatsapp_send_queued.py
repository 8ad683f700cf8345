"""SendQueuedMessages (budget, claim, concurrent calls, outcomes recorded together; at most once) and
ReconcileUnconfirmedSends, on fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from adapters.whatsapp.errors import graph_error
from application.messaging.account_events import AccountEvents
from application.messaging.identities import ContactResolver
from application.messaging.outbound import resume_after_token_change
from application.messaging.refs import EventRef
from application.ports.channel import StatusEvent
from application.use_cases.automations.tracking import AutomationTracker
from application.use_cases.flows.runtime import FlowRuntime
from application.use_cases.whatsapp.send_queued_messages import MEDIA_HOLD
from domain.channel import Message, NumberStatus
from domain.contacts import Contact
from domain.messaging import NumberQualityUpdate
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import FakeSecretResolver, contact, number, outbound

pytestmark = pytest.mark.unit

ORG = uuid4()
SECRET = uuid4()
TOKEN = "EAAG-token"


class World:
    def __init__(self, *, mps: int = 50, max_attempts: int = 8) -> None:
        self.clock = FakeClock(T0)
        self.number = number(ORG, secret_id=SECRET, throughput_mps=mps)
        self.contact = contact(ORG)
        self.factory = FakeUnitOfWorkFactory(FakeStore(
            numbers={self.number.id: self.number}, contacts={self.contact.id: self.contact}))
        self.heard: list[str] = []
        self.app = bootstrap_test_app(uow=self.factory, clock=self.clock, secret_resolver=FakeSecretResolver(
            {SECRET: TOKEN}), send_observer=self.heard.append, whatsapp_send_max_attempts=max_attempts)
        self.gateway, self.secrets = self.app.gateway, self.app.secrets
        self.statuses = self.app.status_recorder
        self.send = self.app.send_queued

    @property
    def store(self) -> FakeStore:
        return self.factory.store

    def person(self, whatsapp_id: str) -> Contact:
        found = contact(ORG, whatsapp_id)
        self.store.contacts[found.id] = found
        return found

    def queue(self, to: Contact | None = None, **fields) -> Message:  # type: ignore[no-untyped-def]
        message = outbound(self.number, to or self.contact, **fields)
        self.store.messages[message.id] = message
        self.store.message_seq[message.id] = len(self.store.message_seq) + 1
        return message

    def message(self, message_id: UUID) -> Message:
        return self.store.messages[message_id]

    async def round(self):  # type: ignore[no-untyped-def]
        return await self.send.execute(ORG, self.number.id)


async def test_a_queued_text_is_claimed_sent_and_recorded() -> None:
    world = World()
    queued = world.queue(content={"text": "hello"})
    done = await world.round()
    assert (done.claimed, done.more_due, done.wait_seconds) == (1, False, 0.0)
    [call] = world.gateway.sends
    assert (call.method, call.phone_number_id, call.access_token, call.to, call.tracking, call.args["body"]) == (
        "send_text", world.number.phone_number_id, TOKEN, world.contact.whatsapp_id, str(queued.id), "hello")
    message = world.message(queued.id)
    assert (message.status, message.wamid, message.attempts, message.sent_at, message.send_claimed_at) == (
        "sent", "wamid.fake1", 1, T0, T0)
    assert world.store.history(queued.id) == [StatusEvent(status="sent", occurred_at=T0)]
    assert world.heard == ["sent"]
    assert world.secrets.uses == [(SECRET, 1, 0)]  # one use of the token per message sent


async def test_nothing_due_costs_no_token_resolution() -> None:
    world = World()
    assert (await world.round()).claimed == 0
    assert world.secrets.resolved == [] and world.gateway.calls == []


@pytest.mark.parametrize(("kind", "content", "method", "expected"), [
    ("template", {"template": {"name": "order", "language": "pt_BR", "components": [{"type": "body"}]}},
     "send_template", {"name": "order", "language": "pt_BR", "components": [{"type": "body"}]}),
    ("interactive", {"text": "Pick", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]},
     "send_buttons", {"body": "Pick", "buttons": [("a", "A"), ("b", "B")]}),
    ("image", {"link": "https://example.com/a.png", "caption": "look"},
     "send_media", {"kind": "image", "link": "https://example.com/a.png", "caption": "look"}),
])
async def test_each_type_goes_through_its_gateway_method(kind: str, content: dict, method: str,  # type: ignore[type-arg]
                                                         expected: dict) -> None:  # type: ignore[type-arg]
    world = World()
    queued = world.queue(kind=kind, content=content)
    assert (await world.round()).claimed == 1
    [call] = world.gateway.sends
    assert call.method == method and call.tracking == str(queued.id)
    assert {key: call.args[key] for key in expected} == expected


async def test_one_round_sends_to_many_recipients_at_once_within_the_budget() -> None:
    world = World(mps=5)
    people = [world.person(f"55119000000{i:02d}") for i in range(8)]
    for person in people:
        world.queue(person)
    first = await world.round()
    assert (first.claimed, first.more_due) == (5, True) and first.wait_seconds > 0
    assert sorted(c.to for c in world.gateway.sends) == sorted(p.whatsapp_id for p in people[:5])
    assert (await world.round()).claimed == 0  # the second's budget is spent
    world.clock.advance(seconds=1)
    assert (await world.round()).claimed == 3
    assert {m.status for m in world.store.messages.values()} == {"sent"}


async def test_one_recipient_gets_its_messages_one_at_a_time_in_queue_order() -> None:
    world = World()
    first, second, third = (world.queue(content={"text": t}) for t in ("1", "2", "3"))
    other = world.queue(world.person("5511988887777"), content={"text": "other"})
    assert (await world.round()).claimed == 2  # one per recipient
    assert [c.args["body"] for c in world.gateway.sends] == ["1", "other"]
    assert (await world.round()).claimed == 1
    assert (await world.round()).claimed == 1
    assert [c.args["body"] for c in world.gateway.sends] == ["1", "other", "2", "3"]
    assert all(world.message(m.id).status == "sent" for m in (first, second, third, other))


async def test_an_unconfirmed_media_message_holds_the_next_one_until_its_status_webhook_or_the_hold() -> None:
    world = World()
    world.queue(kind="image", content={"link": "https://example.com/a.png"})
    text = world.queue(content={"text": "after the picture"})
    assert (await world.round()).claimed == 1
    blocked = await world.round()
    assert (blocked.claimed, blocked.more_due) == (0, True)
    world.clock.advance(MEDIA_HOLD + timedelta(milliseconds=1))  # no webhook came: the hold is over
    assert (await world.round()).claimed == 1
    assert world.message(text.id).status == "sent"


async def test_a_confirmed_media_message_lets_the_next_one_go_at_once() -> None:
    world = World()
    image = world.queue(kind="image", content={"link": "https://example.com/a.png"})
    world.queue(content={"text": "after the picture"})
    await world.round()
    world.store.messages[image.id].confirmed_at = T0  # Meta's status webhook arrived
    assert (await world.round()).claimed == 1


async def test_calls_to_different_recipients_run_concurrently() -> None:
    world = World()
    in_flight, peak = 0, 0
    send_text = world.gateway.send_text

    async def slow_send_text(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return await send_text(*args, **kwargs)

    world.gateway.send_text = slow_send_text  # type: ignore[method-assign]
    for i in range(6):
        world.queue(world.person(f"55119000001{i:02d}"))
    assert (await world.round()).claimed == 6 and peak == 6


async def test_a_refusal_for_now_puts_the_message_back_after_its_backoff() -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(graph_error(400, 130429, title="Rate limit hit"))
    assert (await world.round()).claimed == 1
    message = world.message(queued.id)
    assert (message.status, message.send_claimed_at, message.attempts, message.next_attempt_at) == (
        "queued", None, 1, T0 + timedelta(seconds=1))
    assert world.store.history(queued.id) == [] and world.heard == ["retry"]
    assert (await world.round()).claimed == 0  # not before its backoff
    world.clock.advance(seconds=1)
    assert (await world.round()).claimed == 1
    message = world.message(queued.id)
    assert (message.status, message.attempts, message.wamid) == ("sent", 2, "wamid.fake1")
    assert world.heard == ["retry", "sent"]


async def test_a_message_refused_for_now_on_every_attempt_ends_failed_with_the_last_error() -> None:
    world = World(max_attempts=3)
    queued = world.queue()
    for _ in range(3):
        world.gateway.fail_next(graph_error(400, 131056, title="Pair rate limit hit"))
        assert (await world.round()).claimed == 1
        world.clock.advance(hours=1)
    message = world.message(queued.id)
    assert (message.status, message.error_code, message.attempts) == ("failed", 131056, 3)
    assert message.error_title == "Gave up after 3 attempts: Pair rate limit hit"
    assert world.heard == ["retry", "retry", "failed"]
    assert (await world.round()).claimed == 0


@pytest.mark.parametrize("error", [
    graph_error(None, None, message="read timeout", may_have_been_sent=True),
    graph_error(502, None, message="HTTP 502 without JSON", may_have_been_sent=True),
], ids=["read-timeout", "5xx-html"])
async def test_an_unknown_outcome_keeps_the_claim_and_is_never_sent_again(error: Exception) -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(error)  # type: ignore[arg-type]
    await world.round()
    message = world.message(queued.id)
    assert (message.status, message.send_claimed_at, message.attempts, message.wamid) == ("queued", T0, 1, None)
    world.clock.advance(minutes=5)
    assert (await world.round()).claimed == 0 and len(world.gateway.sends) == 1
    assert world.heard == ["unconfirmed"]


async def test_a_permanent_refusal_fails_at_once_with_its_code() -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(graph_error(400, 131047, title="Re-engagement message"))
    await world.round()
    message = world.message(queued.id)
    assert (message.status, message.error_code, message.error_title, message.failed_at) == (
        "failed", 131047, "Re-engagement message", T0)
    assert world.store.history(queued.id) == [StatusEvent(status="failed", occurred_at=T0, error_code=131047,
                                                          error_title="Re-engagement message")]
    assert world.secrets.uses == [(SECRET, 1, 0)]  # Meta answered: the token was used, and it was fine


async def test_an_expired_token_opens_the_breaker_until_the_token_changes_and_nothing_fails() -> None:
    world = World()
    first = world.queue()
    world.gateway.fail_next(graph_error(401, 190, title="Access token has expired"))
    assert (await world.round()).claimed == 1
    assert world.secrets.uses == [(SECRET, 0, 1)]  # Meta refused the credential: a failed use of the secret
    message = world.message(first.id)
    assert (message.status, message.error_code, message.attempts, message.send_claimed_at) == ("queued", None, 0, None)
    paused = world.store.numbers[world.number.id]
    assert (paused.send_pause_code, paused.send_paused_until) == (190, None) and paused.sending_paused(T0)
    assert paused.send_pause_reason == "Access token has expired"
    second = world.queue(world.person("5511900000077"))
    world.clock.advance(hours=30)  # no end of its own: only a new token closes it
    assert (await world.round()).claimed == 0 and len(world.gateway.sends) == 1
    async with world.factory(ORG) as uow:
        assert await uow.outbox.due_numbers(world.clock.now(), 10) == []  # the scan leaves the number alone
        assert await resume_after_token_change(uow, SECRET) == 1
        await uow.commit()
    assert not world.store.numbers[world.number.id].sending_paused(world.clock.now())
    assert (await world.round()).claimed == 2
    assert {world.message(first.id).status, world.message(second.id).status} == {"sent"}
    assert world.heard == ["paused", "sent", "sent"]


@pytest.mark.parametrize(("code", "hint", "pause"), [(131048, 600.0, 600.0), (368, None, 86400.0),
                                                     (131048, None, 3600.0)])
async def test_spam_limit_or_policy_block_pauses_the_number_for_metas_time_then_sending_resumes(
        code: int, hint: float | None, pause: float) -> None:
    world = World()
    people = [world.person(f"55119000001{i:02d}") for i in range(3)]
    queued = [world.queue(person) for person in people]
    world.gateway.fail_next(graph_error(400, code, title="Temporarily blocked", retry_after=hint))
    assert (await world.round()).claimed == 3
    number = world.store.numbers[world.number.id]
    assert (number.send_pause_code, number.send_paused_until) == (code, T0 + timedelta(seconds=pause))
    assert [world.message(m.id).status for m in queued] == ["queued", "sent", "sent"]  # the others got through
    assert world.message(queued[0].id).attempts == 0  # held by the breaker: no attempt spent
    later = world.queue(people[1])
    world.clock.advance(seconds=pause - 1)
    assert (await world.round()).claimed == 0
    world.clock.advance(seconds=2)
    assert (await world.round()).claimed == 2
    assert {world.message(m.id).status for m in (queued[0], later)} == {"sent"}
    assert world.secrets.uses[0] == (SECRET, 3, 0)  # a paused number is not the token's fault


async def test_an_inactive_number_fails_its_queued_messages_without_sending() -> None:
    world = World()
    world.number.status = NumberStatus.INACTIVE
    queued = world.queue()
    await world.round()
    assert world.gateway.calls == [] and world.message(queued.id).status == "failed"
    assert world.message(queued.id).error_title == "The sending number is not active."


async def test_a_missing_token_leaves_the_messages_queued_and_unclaimed() -> None:
    world = World()
    world.secrets.tokens.clear()
    queued = world.queue()
    done = await world.round()
    assert done.claimed == 0 and done.wait_seconds > 0
    assert world.gateway.calls == [] and world.message(queued.id).send_claimed_at is None


async def test_a_message_whose_contact_was_deleted_fails_without_a_call() -> None:
    world = World()
    queued = world.queue()
    world.store.messages[queued.id].contact_id = None
    await world.round()
    assert world.gateway.calls == [] and world.message(queued.id).status == "failed"


async def test_a_status_webhook_that_overtook_the_answer_is_not_undone() -> None:
    """Meta's 'delivered' webhook (echoing our id) is applied before the send's answer is recorded."""
    world = World()
    queued = world.queue()
    send_text = world.gateway.send_text

    async def webhook_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent = await send_text(*args, **kwargs)
        stored = world.store.messages[queued.id]
        stored.wamid, stored.status, stored.delivered_at = sent.wamid, "delivered", T0
        return sent

    world.gateway.send_text = webhook_first  # type: ignore[method-assign]
    await world.round()
    message = world.message(queued.id)
    assert (message.status, message.wamid, message.sent_at) == ("delivered", "wamid.fake1", T0)


# --------------------------------------------------------------------------- the unconfirmed sweep


async def test_the_sweep_fails_a_send_that_stayed_unconfirmed_and_leaves_the_others() -> None:
    world = World()
    sweep = world.app.reconcile_sends
    lost = world.queue(send_claimed_at=T0, attempts=1)
    confirmed = world.queue(world.person("5511900000999"), send_claimed_at=T0, wamid="wamid.confirmed")
    recent = world.queue(world.person("5511900000998"), send_claimed_at=T0 + timedelta(minutes=9))
    world.clock.advance(minutes=10, seconds=1)
    assert await sweep.execute() == 1
    message = world.message(lost.id)
    assert (message.status, message.error_code, message.wamid) == ("failed", None, None)
    assert message.error_title and "never confirmed" in message.error_title
    assert world.message(confirmed.id).status == "queued" and world.message(recent.id).status == "queued"
    assert await sweep.execute() == 0 and world.gateway.calls == []


async def test_a_banned_account_fails_its_queued_messages_with_a_clear_reason_without_sending() -> None:
    world = World()
    world.number.account_status = "banned"
    queued = world.queue()
    await world.round()
    assert world.gateway.calls == [] and world.message(queued.id).status == "failed"
    assert "disabled the WhatsApp Business Account" in (world.message(queued.id).error_title or "")


async def test_a_restricted_account_still_sends() -> None:
    world = World()
    world.number.account_status = "restricted"
    queued = world.queue()
    await world.round()
    assert world.message(queued.id).status == "sent"


async def test_metas_canonical_wa_id_replaces_the_number_sent_to_unless_another_contact_has_it() -> None:
    world = World()
    ana, taken, other = world.person("5531987654321"), world.person("5532987654321"), world.person("553287654321")
    world.gateway.canonical = {"5531987654321": "553187654321", "5532987654321": "553287654321"}
    first, second = world.queue(to=ana), world.queue(to=taken)
    await world.round()
    assert world.message(first.id).status == world.message(second.id).status == "sent"
    assert world.store.contacts[ana.id].whatsapp_id == "553187654321"
    assert world.store.contacts[taken.id].whatsapp_id == "5532987654321"  # the next inbound message merges them
    assert world.store.contacts[other.id].whatsapp_id == "553287654321"


async def test_a_contact_known_only_by_bsuid_is_sent_to_by_it() -> None:
    world = World()
    username = world.person("00000000")
    username.whatsapp_id, username.bsuid = None, "US.13491208655302741918"
    queued = world.queue(to=username)
    await world.round()
    [call] = world.gateway.sends
    assert call.to == "US.13491208655302741918" and world.message(queued.id).status == "sent"


async def test_a_throughput_upgrade_webhook_raises_the_pace_from_the_next_round() -> None:
    world = World(mps=5)
    world.number.waba_id = "waba-1"
    for i in range(12):
        world.queue(world.person(f"55119000000{i:02d}"))
    assert (await world.round()).claimed == 5
    upgrade = NumberQualityUpdate(waba_id="waba-1", display_phone_number=world.number.phone_number,
                                  event="THROUGHPUT_UPGRADE", current_limit="TIER_UNLIMITED")
    async with world.factory(ORG) as uow:
        await AccountEvents(automations=AutomationTracker(flows=FlowRuntime()), resolver=ContactResolver()).apply(
            uow, {world.number.phone_number_id: world.number}, [EventRef(uuid4(), 1, 0, upgrade)], T0,
            lambda _ref, _outcome: None)
        await uow.commit()
    assert world.store.numbers[world.number.id].throughput_mps == 1000
    world.clock.advance(seconds=1)
    assert (await world.round()).claimed == 7  # the rest at once: the budget is 1000/s now
