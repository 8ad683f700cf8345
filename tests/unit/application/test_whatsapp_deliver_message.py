"""DeliverMessage (at most once: pace, claim, send, record) and ReconcileUnconfirmedSend, on fakes."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from application.ports.channel import StatusEvent
from application.ports.whatsapp import graph_error
from application.use_cases.whatsapp.deliver_message import (
    UNCONFIRMED_TIMEOUT,
    DeliverMessage,
    ReconcileUnconfirmedSend,
)
from application.use_cases.whatsapp.jobs import RECONCILE_SEND_JOB
from domain.channel import Message, NumberStatus
from domain.vault import SecretNotFound
from tests.fakes import T0, FakeClock
from tests.fakes_channel import (
    ChannelStore,
    FakeChannelUnitOfWorkFactory,
    FakeSecretResolver,
    FakeSendPacer,
    FakeWhatsAppGateway,
    contact,
    number,
    outbound,
)

pytestmark = pytest.mark.unit

ORG = uuid4()
SECRET = uuid4()
TOKEN = "EAAG-token"


class World:
    def __init__(self, *, pacer_wait: float = 0.0) -> None:
        self.clock = FakeClock(T0)
        self.number = number(ORG, secret_id=SECRET, throughput_mps=50)
        self.contact = contact(ORG)
        self.store = ChannelStore(numbers={self.number.id: self.number}, contacts={self.contact.id: self.contact})
        self.factory = FakeChannelUnitOfWorkFactory(self.store)
        self.gateway = FakeWhatsAppGateway()
        self.pacer = FakeSendPacer(pacer_wait)
        self.secrets = FakeSecretResolver({SECRET: TOKEN})
        self.hooked: list[tuple[UUID, str]] = []

        async def hook(_uow, message: Message) -> None:  # type: ignore[no-untyped-def]
            self.hooked.append((message.id, message.status))

        self.deliver = DeliverMessage(uow=self.factory, gateway=self.gateway, secrets=self.secrets,
                                      pacer=self.pacer, clock=self.clock, status_hooks=[hook])

    def queue(self, **fields) -> Message:  # type: ignore[no-untyped-def]
        message = outbound(self.number, self.contact, **fields)
        self.factory.store.messages[message.id] = message
        return message

    def message(self, message_id: UUID) -> Message:
        return self.factory.store.messages[message_id]

    def history(self, message_id: UUID) -> list[StatusEvent]:
        return self.factory.store.history(message_id)

    def jobs(self, entrypoint: str) -> list:  # type: ignore[type-arg]
        return self.factory.store.jobs.pending(entrypoint)


async def test_a_queued_text_is_paced_claimed_sent_and_recorded() -> None:
    world = World()
    queued = world.queue(content={"text": "hello"})
    assert await world.deliver.execute(ORG, queued.id) == "sent"
    [call] = world.gateway.sends
    assert (call.method, call.phone_number_id, call.access_token, call.to, call.tracking, call.args["body"]) == (
        "send_text", world.number.phone_number_id, TOKEN, world.contact.whatsapp_id, str(queued.id), "hello")
    assert world.pacer.reservations == [(f"number:{world.number.id}", 50)]
    message = world.message(queued.id)
    assert (message.status, message.wamid, message.attempts, message.sent_at) == ("sent", "wamid.fake1", 1, T0)
    assert message.send_claimed_at == T0
    assert world.history(queued.id) == [StatusEvent(status="sent", occurred_at=T0)]
    assert world.hooked == [(queued.id, "sent")]
    assert world.jobs(RECONCILE_SEND_JOB) == []


@pytest.mark.parametrize(("kind", "content", "method", "expected"), [
    ("template", {"template": {"name": "order", "language": "pt_BR", "components": [{"type": "body"}]}},
     "send_template", {"name": "order", "language": "pt_BR", "components": [{"type": "body"}]}),
    ("interactive", {"text": "Pick", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]},
     "send_buttons", {"body": "Pick", "buttons": [("a", "A"), ("b", "B")]}),
])
async def test_each_type_goes_through_its_gateway_method(kind: str, content: dict, method: str,  # type: ignore[type-arg]
                                                         expected: dict) -> None:  # type: ignore[type-arg]
    world = World()
    queued = world.queue(kind=kind, content=content)
    assert await world.deliver.execute(ORG, queued.id) == "sent"
    [call] = world.gateway.sends
    assert call.method == method and call.tracking == str(queued.id)
    assert {key: call.args[key] for key in expected} == expected


async def test_an_existing_claim_means_no_send_only_a_reconcile() -> None:
    world = World()
    queued = world.queue(send_claimed_at=T0 - timedelta(minutes=1), attempts=1)
    assert await world.deliver.execute(ORG, queued.id) == "unconfirmed"
    assert world.gateway.calls == [] and world.pacer.reservations == []
    [job] = world.jobs(RECONCILE_SEND_JOB)
    assert job.payload == {"organization_id": str(ORG), "message_id": str(queued.id)}
    assert (job.dedupe_key, job.delay) == (f"reconcile:{queued.id}", UNCONFIRMED_TIMEOUT)
    message = world.message(queued.id)
    assert (message.status, message.attempts, message.wamid) == ("queued", 1, None)


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed"])
async def test_messages_past_queued_are_skipped(status: str) -> None:
    world = World()
    queued = world.queue(status=status)
    assert await world.deliver.execute(ORG, queued.id) == "skipped"
    assert world.gateway.calls == [] and world.factory.store.jobs.jobs == []


async def test_unknown_message_or_other_organization_is_skipped() -> None:
    world = World()
    assert await world.deliver.execute(ORG, uuid4()) == "skipped"
    queued = world.queue()
    assert await world.deliver.execute(uuid4(), queued.id) == "skipped"
    assert world.gateway.calls == []


async def test_rate_limit_releases_the_claim_and_reraises_for_a_retry() -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(graph_error(400, 130429, title="Rate limit hit"))
    with pytest.raises(Exception) as raised:
        await world.deliver.execute(ORG, queued.id)
    assert getattr(raised.value, "graph_code", None) == 130429 and raised.value.retryable  # type: ignore[attr-defined]
    assert raised.value.retry_after_seconds == 1.0  # type: ignore[attr-defined]
    message = world.message(queued.id)
    assert (message.status, message.send_claimed_at, message.attempts) == ("queued", None, 1)
    assert world.history(queued.id) == [] and world.jobs(RECONCILE_SEND_JOB) == []
    # the queue's retry then sends it, once
    world.clock.advance(seconds=1)
    assert await world.deliver.execute(ORG, queued.id) == "sent"
    message = world.message(queued.id)
    assert (message.status, message.attempts, message.wamid) == ("sent", 2, "wamid.fake1")
    assert len(world.gateway.sends) == 2  # the refused request and the accepted one


@pytest.mark.parametrize("error", [
    graph_error(400, 131000, title="Something went wrong"),
    graph_error(503, 131016, title="Service unavailable"),
    graph_error(None, None, message="connect failed", may_have_been_sent=False),
], ids=["131000", "131016", "connect-error"])
async def test_definitive_transient_errors_release_the_claim(error: Exception) -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(error)  # type: ignore[arg-type]
    with pytest.raises(type(error)):
        await world.deliver.execute(ORG, queued.id)
    assert world.message(queued.id).send_claimed_at is None


@pytest.mark.parametrize("error", [
    graph_error(None, None, message="read timeout", may_have_been_sent=True),
    graph_error(502, None, message="HTTP 502 without JSON", may_have_been_sent=True),
], ids=["read-timeout", "5xx-html"])
async def test_ambiguous_errors_keep_the_claim_and_schedule_a_reconcile(error: Exception) -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(error)  # type: ignore[arg-type]
    assert await world.deliver.execute(ORG, queued.id) == "unconfirmed"
    message = world.message(queued.id)
    assert (message.status, message.send_claimed_at, message.attempts, message.wamid) == ("queued", T0, 1, None)
    [job] = world.jobs(RECONCILE_SEND_JOB)
    assert job.delay == UNCONFIRMED_TIMEOUT and job.payload["message_id"] == str(queued.id)
    # a retry of the send job (e.g. after a crash) never sends again
    assert await world.deliver.execute(ORG, queued.id) == "unconfirmed"
    assert len(world.gateway.sends) == 1
    assert len(world.jobs(RECONCILE_SEND_JOB)) == 1  # deduplicated


async def test_window_closed_131047_fails_at_once_with_its_code() -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(graph_error(400, 131047, title="Re-engagement message"))
    assert await world.deliver.execute(ORG, queued.id) == "failed"
    message = world.message(queued.id)
    assert (message.status, message.error_code, message.error_title, message.failed_at) == (
        "failed", 131047, "Re-engagement message", T0)
    assert world.history(queued.id) == [StatusEvent(status="failed", occurred_at=T0, error_code=131047,
                                                    error_title="Re-engagement message")]
    assert world.secrets.failures == [] and world.hooked == [(queued.id, "failed")]
    assert await world.deliver.execute(ORG, queued.id) == "skipped"
    assert len(world.gateway.sends) == 1


async def test_expired_token_190_reports_the_credential_and_fails_the_message() -> None:
    world = World()
    queued = world.queue()
    world.gateway.fail_next(graph_error(401, 190, title="Access token has expired"))
    assert await world.deliver.execute(ORG, queued.id) == "failed"
    assert world.secrets.resolved == [(ORG, SECRET)]
    assert world.secrets.failures == [(ORG, SECRET)]
    message = world.message(queued.id)
    assert (message.status, message.error_code) == ("failed", 190)


async def test_inactive_number_fails_without_sending() -> None:
    world = World()
    world.number.status = NumberStatus.INACTIVE
    queued = world.queue()
    assert await world.deliver.execute(ORG, queued.id) == "failed"
    assert world.gateway.calls == [] and world.message(queued.id).status == "failed"


async def test_missing_secret_raises_before_any_claim() -> None:
    world = World()
    world.secrets.tokens.clear()
    queued = world.queue()
    with pytest.raises(SecretNotFound):
        await world.deliver.execute(ORG, queued.id)
    assert world.gateway.calls == [] and world.message(queued.id).send_claimed_at is None


async def test_pacer_wait_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr("application.use_cases.whatsapp.deliver_message.asyncio.sleep", fake_sleep)
    world = World(pacer_wait=0.25)
    queued = world.queue()
    assert await world.deliver.execute(ORG, queued.id) == "sent"
    assert slept == [0.25]


# --------------------------------------------------------------------------- reconcile


async def test_reconcile_fails_an_unconfirmed_send_that_never_got_a_webhook() -> None:
    world = World()
    queued = world.queue(send_claimed_at=T0, attempts=1)
    world.clock.advance(UNCONFIRMED_TIMEOUT)
    reconcile = ReconcileUnconfirmedSend(uow=world.factory, clock=world.clock)
    assert await reconcile.execute(ORG, queued.id) is True
    message = world.message(queued.id)
    assert (message.status, message.failed_at, message.error_code, message.wamid) == (
        "failed", T0 + UNCONFIRMED_TIMEOUT, None, None)
    assert message.error_title and "never confirmed" in message.error_title
    [event] = world.history(queued.id)
    assert (event.status, event.occurred_at) == ("failed", T0 + UNCONFIRMED_TIMEOUT)
    assert await reconcile.execute(ORG, queued.id) is False  # idempotent
    assert world.gateway.calls == []


async def test_reconcile_leaves_a_send_the_webhook_confirmed() -> None:
    world = World()
    reconcile = ReconcileUnconfirmedSend(uow=world.factory, clock=world.clock)
    by_wamid = world.queue(send_claimed_at=T0, wamid="wamid.confirmed")
    already_sent = world.queue(send_claimed_at=T0, status="delivered", wamid="wamid.other")
    assert await reconcile.execute(ORG, by_wamid.id) is False
    assert await reconcile.execute(ORG, already_sent.id) is False
    assert await reconcile.execute(ORG, uuid4()) is False
    assert world.message(by_wamid.id).status == "queued" and world.message(already_sent.id).status == "delivered"


async def test_the_observer_hears_every_outcome_including_a_refusal_for_now() -> None:
    world = World()
    heard: list[str] = []
    deliver = DeliverMessage(uow=world.factory, gateway=world.gateway, secrets=world.secrets, pacer=world.pacer,
                             clock=world.clock, observer=heard.append)
    queued = world.queue()
    world.gateway.fail_next(graph_error(400, 130429, title="Rate limit hit"))
    with pytest.raises(Exception, match="130429|Rate limit"):
        await deliver.execute(ORG, queued.id)
    assert await deliver.execute(ORG, queued.id) == "sent"
    assert await deliver.execute(ORG, queued.id) == "skipped"  # already sent
    refused = world.queue()
    world.gateway.fail_next(graph_error(400, 131026, title="Message undeliverable"))
    assert await deliver.execute(ORG, refused.id) == "failed"
    assert heard == ["retry", "sent", "skipped", "failed"]
