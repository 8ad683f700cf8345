"""SendMessage: the 24-hour window rule, templates always allowed, WhatsApp's limits, contacts created on demand."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from application.messaging.outbound import OUTBOX_TOPIC
from application.use_cases.whatsapp.send_message import SendMessage, SendMessageCommand
from domain.channel import (
    Conversation,
    NoActiveNumber,
    NumberNotActive,
    NumberStatus,
    OutsideCustomerServiceWindow,
    WhatsAppNumberNotFound,
)
from domain.contacts import InvalidWhatsAppId
from domain.errors import InvalidValue, PermissionDenied
from domain.identity import Role
from domain.messaging import MessageDirection
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_channel import actor, contact, number

pytestmark = pytest.mark.unit

ORG = uuid4()
TO = "16505551234"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def store() -> FakeStore:
    store = FakeStore()
    num = number(ORG)
    store.numbers[num.id] = num
    return store


@pytest.fixture
def use_case(store: FakeStore, clock: FakeClock) -> tuple[SendMessage, FakeUnitOfWorkFactory]:
    app = bootstrap_test_app(store=store, clock=clock)
    send: SendMessage = app.send_message
    return send, app.uow


def _number(factory: FakeUnitOfWorkFactory):  # type: ignore[no-untyped-def]
    return next(iter(factory.store.numbers.values()))


def _open_window(factory: FakeUnitOfWorkFactory, last_inbound_ago: timedelta) -> None:
    num, person = _number(factory), contact(ORG, TO)
    factory.store.contacts[person.id] = person
    conversation = Conversation(id=uuid4(), organization_id=ORG, number_id=num.id, contact_id=person.id,
                                last_inbound_at=T0 - last_inbound_ago, created_at=T0, updated_at=T0)
    factory.store.conversations[conversation.id] = conversation


async def test_free_form_without_any_conversation_is_refused_and_nothing_is_stored(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    with pytest.raises(OutsideCustomerServiceWindow) as raised:
        await send.execute(actor(ORG), SendMessageCommand(to=TO, message="hi"))
    assert raised.value.code == "outside_customer_service_window"
    assert factory.store.messages == {} and factory.store.jobs.wakes == []
    assert factory.store.contacts == {}  # the contact created on the way was rolled back too


@pytest.mark.parametrize("ago", [timedelta(hours=24), timedelta(hours=24, seconds=1), timedelta(days=3)])
async def test_free_form_after_the_window_closed_is_refused(use_case, ago: timedelta) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, ago)
    for kind, extra in (("text", {}), ("interactive", {"buttons": [("yes", "Yes")]})):
        with pytest.raises(OutsideCustomerServiceWindow):
            await send.execute(actor(ORG), SendMessageCommand(to=TO, message="hi", type=kind, **extra))
    assert factory.store.messages == {} and factory.store.jobs.wakes == []


@pytest.mark.parametrize("ago", [timedelta(0), timedelta(hours=23, minutes=59, seconds=59)])
async def test_free_form_inside_the_window_is_queued_and_wakes_the_sender(use_case, ago: timedelta) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, ago)
    queued = await send.execute(actor(ORG, Role.AGENT), SendMessageCommand(to="+1 650-555-1234", message=" hi "))
    assert queued.status == "queued"
    message = factory.store.messages[queued.message_id]
    assert (message.direction, message.type, message.content, message.status, message.wamid) == (
        MessageDirection.OUTBOUND, "text", {"text": "hi"}, "queued", None)
    assert message.number_id == _number(factory).id and message.source == "api"
    assert factory.store.jobs.wakes == [(OUTBOX_TOPIC, f"{ORG}:{_number(factory).id}")]  # the sender, on commit


async def test_template_is_allowed_without_a_window_and_creates_the_contact(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Jessica"}]}]
    queued = await send.execute(actor(ORG), SendMessageCommand(
        to=TO, type="template", template_id="order_confirmation", language="pt_BR", components=components))
    [person] = factory.store.contacts.values()
    assert (person.whatsapp_id, person.organization_id) == (TO, ORG)
    message = factory.store.messages[queued.message_id]
    assert message.contact_id == person.id and message.type == "template"
    assert message.content == {"template": {"name": "order_confirmation", "language": "pt_BR",
                                            "components": components}}
    assert len(factory.store.jobs.wakes) == 1


async def test_an_existing_contact_is_reused(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, timedelta(minutes=5))
    [existing] = factory.store.contacts.values()
    await send.execute(actor(ORG), SendMessageCommand(to=TO, message="one"))
    await send.execute(actor(ORG), SendMessageCommand(to=TO, type="template", template_id="hello"))
    assert list(factory.store.contacts) == [existing.id]
    assert {m.contact_id for m in factory.store.messages.values()} == {existing.id}


async def test_interactive_buttons_are_stored_in_order(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, timedelta(hours=1))
    queued = await send.execute(actor(ORG), SendMessageCommand(
        to=TO, type="interactive", message="Pick one", buttons=[("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")]))
    assert factory.store.messages[queued.message_id].content == {
        "text": "Pick one", "buttons": [{"id": "a", "title": "Alpha"}, {"id": "b", "title": "Beta"},
                                        {"id": "c", "title": "Gamma"}]}


@pytest.mark.parametrize("command", [
    SendMessageCommand(to=TO, message=""),
    SendMessageCommand(to=TO, message="   "),
    SendMessageCommand(to=TO, message="x" * 4097),
    SendMessageCommand(to=TO, type="template"),
    SendMessageCommand(to=TO, type="interactive", message="body", buttons=[]),
    SendMessageCommand(to=TO, type="interactive", message="body", buttons=[(str(i), f"B{i}") for i in range(4)]),
    SendMessageCommand(to=TO, type="interactive", message="body", buttons=[("a", "x" * 21)]),
    SendMessageCommand(to=TO, type="interactive", message="body", buttons=[("a", "")]),
    SendMessageCommand(to=TO, type="interactive", message="body", buttons=[("a", "Same"), ("b", "Same")]),
    SendMessageCommand(to=TO, type="interactive", message="x" * 1025, buttons=[("a", "A")]),
    SendMessageCommand(to=TO, type="video", message="body"),
], ids=["empty", "blank", "text-4097", "template-without-name", "no-buttons", "four-buttons", "title-21",
        "title-empty", "duplicate-titles", "button-body-1025", "unknown-type"])
async def test_invalid_content_is_refused_before_anything_is_stored(use_case, command: SendMessageCommand) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, timedelta(hours=1))
    with pytest.raises(InvalidValue):
        await send.execute(actor(ORG), command)
    assert factory.store.messages == {} and factory.store.jobs.wakes == []


async def test_limits_themselves_are_accepted(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    _open_window(factory, timedelta(hours=1))
    await send.execute(actor(ORG), SendMessageCommand(to=TO, message="x" * 4096))
    await send.execute(actor(ORG), SendMessageCommand(to=TO, type="interactive", message="y" * 1024,
                                                      buttons=[("a", "t" * 20), ("b", "u" * 20), ("c", "v")]))
    assert len(factory.store.messages) == 2


async def test_invalid_recipient_is_refused(use_case) -> None:  # type: ignore[no-untyped-def]
    send, _ = use_case
    with pytest.raises(InvalidWhatsAppId):
        await send.execute(actor(ORG), SendMessageCommand(to="call me", type="template", template_id="hello"))


async def test_viewer_may_not_send(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    with pytest.raises(PermissionDenied):
        await send.execute(actor(ORG, Role.VIEWER), SendMessageCommand(to=TO, type="template", template_id="x"))
    assert factory.store.messages == {}


async def test_sender_choice(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    template = {"to": TO, "type": "template", "template_id": "hello"}
    with pytest.raises(WhatsAppNumberNotFound):
        await send.execute(actor(ORG), SendMessageCommand(**template, from_number_id=uuid4()))
    other_org_number = number(uuid4(), phone_number_id="999")
    factory.store.numbers[other_org_number.id] = other_org_number
    with pytest.raises(WhatsAppNumberNotFound):
        await send.execute(actor(ORG), SendMessageCommand(**template, from_number_id=other_org_number.id))
    second = number(ORG, phone_number_id="222", created_at=T0 + timedelta(seconds=1))
    factory.store.numbers[second.id] = second
    queued = await send.execute(actor(ORG), SendMessageCommand(**template, from_number_id=second.id))
    assert factory.store.messages[queued.message_id].number_id == second.id
    default = await send.execute(actor(ORG), SendMessageCommand(**template))
    assert factory.store.messages[default.message_id].number_id == _number(factory).id  # the oldest active one


async def test_inactive_or_missing_numbers_cannot_send(use_case) -> None:  # type: ignore[no-untyped-def]
    send, factory = use_case
    num = _number(factory)
    num.status = NumberStatus.INACTIVE
    with pytest.raises(NoActiveNumber):
        await send.execute(actor(ORG), SendMessageCommand(to=TO, type="template", template_id="hello"))
    with pytest.raises(NumberNotActive):
        await send.execute(actor(ORG), SendMessageCommand(to=TO, type="template", template_id="hello",
                                                          from_number_id=num.id))
    assert factory.store.messages == {}
