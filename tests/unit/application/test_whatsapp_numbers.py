"""Number ownership: only a number the Graph API check proved receives webhooks, and a proven registration takes a
phone_number_id over from an unproven one in another organization (SPEC "WhatsApp"; issue #11 item 9)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from application.ports.whatsapp import GraphTransientError
from application.use_cases.whatsapp.register_number import RegisterNumberCommand
from domain.channel import NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from tests.bootstrap import bootstrap_test_app
from tests.fake_graph import builders
from tests.fakes import T0, FakeClock
from tests.fakes_channel import actor

pytestmark = pytest.mark.unit

PNID = "106540352242922"
SECRET = "app-secret"


class World:
    def __init__(self) -> None:
        app = bootstrap_test_app(clock=FakeClock(T0), whatsapp_app_secret=SECRET)
        self.clock, self.factory, self.gateway, self.secrets = app.clock, app.uow, app.gateway, app.secrets
        self.register_number = app.register_number
        self.verify = app.verify_number
        self.ingest = app.ingest_webhook
        self.process = app.process_inbox

    async def register(self, org: UUID, *, outage: bool = False) -> WhatsAppNumber:
        secret_id = uuid4()
        self.secrets.tokens[secret_id] = f"EAAG-{org}"
        if outage:
            self.gateway.fail_next(GraphTransientError("Graph API down"))
        return await self.register_number.execute(actor(org), RegisterNumberCommand(
            phone_number_id=PNID, access_token_secret_id=secret_id))

    def stored(self, number: WhatsAppNumber) -> WhatsAppNumber:
        return self.factory.store.numbers[number.id]

    async def inbound(self, text: str) -> dict[str, int]:
        body = builders.webhook_body(builders.inbound_text(PNID, "5511987650001", text))
        webhook_id = await self.ingest.execute(body, builders.sign(SECRET, body))
        assert webhook_id is not None
        await self.process.execute()
        return self.factory.store.webhook_events[webhook_id].summary or {}


async def test_a_number_still_pending_verification_receives_no_webhooks() -> None:
    world = World()
    squatter = await world.register(uuid4(), outage=True)
    assert squatter.status is NumberStatus.PENDING

    summary = await world.inbound("a customer writes to the real owner")

    assert summary == {"unroutable": 1}
    assert world.factory.store.messages == {} and world.factory.store.contacts == {}


async def test_a_proven_registration_takes_the_id_over_from_an_unproven_one_elsewhere() -> None:
    world = World()
    squatter_org, owner_org = uuid4(), uuid4()
    squatter = await world.register(squatter_org, outage=True)

    owner = await world.register(owner_org)

    assert owner.status is NumberStatus.ACTIVE and owner.organization_id == owner_org
    superseded = world.stored(squatter)
    assert superseded.status is NumberStatus.INACTIVE and superseded.last_error is not None
    assert "another organization" in superseded.last_error
    assert await world.inbound("hello") == {"inbound": 1}
    (message,) = world.factory.store.messages.values()
    assert (message.organization_id, message.number_id) == (owner_org, owner.id)
    with pytest.raises(WhatsAppNumberAlreadyRegistered):  # the squatter cannot take it back
        await world.register(squatter_org, outage=True)


async def test_a_proven_number_cannot_be_registered_by_anyone_else() -> None:
    world = World()
    await world.register(uuid4())
    for outage in (True, False):
        with pytest.raises(WhatsAppNumberAlreadyRegistered):
            await world.register(uuid4(), outage=outage)


async def test_an_organization_cannot_register_one_number_twice() -> None:
    world = World()
    org = uuid4()
    await world.register(org, outage=True)
    with pytest.raises(WhatsAppNumberAlreadyRegistered):
        await world.register(org)


async def test_a_superseded_registration_is_never_verified_later() -> None:
    world = World()
    squatter_org = uuid4()
    squatter = await world.register(squatter_org, outage=True)
    await world.register(uuid4())
    calls = len(world.gateway.calls)

    await world.verify.execute(squatter_org, squatter.id)

    assert world.stored(squatter).status is NumberStatus.INACTIVE and len(world.gateway.calls) == calls


async def test_a_late_verification_loses_to_a_number_proven_meanwhile() -> None:
    world = World()
    late_org = uuid4()
    late = await world.register(late_org, outage=True)
    owner = await world.register(uuid4())
    # the race: the late registration was stored pending just after the owner's committed (not superseded)
    world.factory.store.numbers[late.id].status = NumberStatus.PENDING
    world.factory.store.numbers[late.id].last_error = None

    await world.verify.execute(late_org, late.id)  # the Graph check passes for it too (both hold a token)

    lost = world.stored(late)
    assert lost.status is NumberStatus.INACTIVE and "another organization" in (lost.last_error or "").lower()
    assert world.stored(owner).status is NumberStatus.ACTIVE
    assert await world.inbound("hi") == {"inbound": 1}
    assert {m.organization_id for m in world.factory.store.messages.values()} == {owner.organization_id}


async def test_a_verification_that_proves_ownership_supersedes_the_other_pending_ones() -> None:
    world = World()
    owner_org, other_org = uuid4(), uuid4()
    mine = await world.register(owner_org, outage=True)
    other = await world.register(other_org, outage=True)

    await world.verify.execute(owner_org, mine.id)

    assert world.stored(mine).status is NumberStatus.ACTIVE
    assert world.stored(other).status is NumberStatus.INACTIVE
    assert await world.inbound("hi") == {"inbound": 1}
