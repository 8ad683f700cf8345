"""Flow automations' use cases on in-memory fakes: create (frozen audience), control, dispatch, tracking."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from application.jobs import DispatchAutomation as DispatchAutomationJob
from application.messaging.outbound import OUTBOX_TOPIC
from application.messaging.routing import InboundOutcome, InboundRouter
from application.messaging.statuses import StatusChange, StatusRecorder
from application.ports.channel import SendPacer
from application.use_cases.automations import create_automation
from application.use_cases.automations.cancel_automation import CancelAutomation
from application.use_cases.automations.create_automation import AudienceEntry, AudienceFilter, CreateAutomationCommand
from application.use_cases.automations.dispatch import DispatchAutomation
from application.use_cases.automations.pause_automation import PauseAutomation
from application.use_cases.automations.resume_automation import ResumeAutomation
from application.use_cases.automations.start_automation import StartAutomation
from application.use_cases.automations.tracking import AutomationTracker
from application.use_cases.flows.runtime import FlowRuntime
from domain.automations import (
    Automation,
    AutomationAlreadyStarted,
    AutomationNotFound,
    AutomationStatus,
    Recipient,
    RecipientState,
    TemplateRequired,
)
from domain.channel import Conversation, Message, WhatsAppNumber
from domain.contacts import Contact, ContactNotFound
from domain.errors import InvalidValue, PermissionDenied
from domain.flows.records import Flow, FlowNotActive, FlowNotFound, FlowStatus
from domain.identity import Role
from domain.messaging import InboundMessage, InboundMessageType, MessageDirection, MessageStatus
from tests.bootstrap import TestApp, bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.fakes_automations import FakeFlowStarter
from tests.fakes_channel import actor, contact, number

S, R = AutomationStatus, RecipientState
TEMPLATE = {"name": "promo", "language": "pt_BR", "components": [
    {"type": "body", "parameters": [{"type": "text", "text": "{{first}} / {{contact.name}} / {{coupon}}"}]}]}


class HookPacer(SendPacer):
    """Records reservations; runs ``hook(n)`` before answering the n-th (1-based) one."""

    def __init__(self, hook: Any = None) -> None:
        self.reservations: list[tuple[str, float]] = []
        self.hook = hook

    async def reserve(self, key: str, rate_per_second: float, count: int = 1) -> float:
        self.reservations.append((key, rate_per_second))
        if self.hook is not None:
            await self.hook(len(self.reservations))
        return 0.0

    async def admit(self, key: str, per_second: int) -> float:
        return 0.0


@dataclass
class World:
    uow: FakeUnitOfWorkFactory
    clock: FakeClock
    org: UUID
    number: WhatsAppNumber
    flow: Flow
    starter: FakeFlowStarter = field(default_factory=FakeFlowStarter)
    pacer: HookPacer = field(default_factory=HookPacer)
    app: TestApp = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """The container's use cases on this world's fakes; flows are started by the recording starter."""
        self.app = bootstrap_test_app(uow=self.uow, clock=self.clock, send_pacer=self.pacer,
                                      flow_runtime=self.starter)

    @property
    def store(self) -> FakeStore:
        return self.uow.store

    @property
    def admin(self):  # type: ignore[no-untyped-def]
        return actor(self.org)

    def add_contact(self, whatsapp_id: str, *, name: str | None = None, opted_out: bool = False,
                    window: bool = False, org: UUID | None = None, tags: list[str] | None = None,
                    seconds: int = 0) -> Contact:
        person = contact(org or self.org, whatsapp_id, at=T0 + timedelta(seconds=seconds))
        person.name, person.opted_out, person.tags = name, opted_out, list(tags or [])
        self.store.contacts[person.id] = person
        if window:
            conversation = Conversation(id=uuid4(), organization_id=self.org, number_id=self.number.id,
                                        contact_id=person.id, last_inbound_at=self.clock.now() - timedelta(hours=1),
                                        created_at=T0, updated_at=T0)
            self.store.conversations[conversation.id] = conversation
        return person

    async def create(self, entries: list[AudienceEntry], **config: Any) -> Automation:
        config.setdefault("template", TEMPLATE)
        return await self.app.create_automation.execute(
            self.admin, CreateAutomationCommand(flow_id=self.flow.id, contacts=entries, **config))

    async def create_for(self, audience: AudienceFilter, **config: Any) -> Automation:
        config.setdefault("template", TEMPLATE)
        return await self.app.create_automation.execute(
            self.admin, CreateAutomationCommand(flow_id=self.flow.id, audience=audience, **config))

    async def start(self, automation: Automation) -> None:
        await self.app.start_automation.execute(self.admin, automation.id)

    def dispatcher(self) -> DispatchAutomation:
        return self.app.dispatch_automation

    async def dispatch(self, automation: Automation) -> int:
        return await self.dispatcher().execute(self.org, automation.id)

    def recipients(self, automation: Automation) -> list[Recipient]:
        return sorted((r for r in self.store.recipients.values() if r.automation_id == automation.id),
                      key=lambda r: r.seq)

    def automation(self, automation: Automation) -> Automation:
        return self.store.automations[automation.id]

    def outbound(self) -> list[Message]:
        return sorted((m for m in self.store.messages.values() if m.direction is MessageDirection.OUTBOUND),
                      key=lambda m: (m.created_at, str(m.contact_id)))


def campaign_world() -> World:
    """An organization with an 80 msg/s number and an active flow, on a fresh fake unit of work."""
    uow, clock, org = FakeUnitOfWorkFactory(), FakeClock(), uuid4()
    num = number(org, throughput_mps=80)
    flow = Flow(id=uuid4(), organization_id=org, name="Campaign", status=FlowStatus.ACTIVE, created_at=T0,
                updated_at=T0)
    uow.store.numbers[num.id] = num
    uow.store.flows[flow.id] = flow
    return World(uow, clock, org, num, flow)


@pytest.fixture
def world() -> World:
    return campaign_world()


def wa(whatsapp_id: str, **fields: Any) -> AudienceEntry:
    return AudienceEntry(whatsapp_id=whatsapp_id, **fields)


# =========================================================================== create


async def test_create_freezes_a_deduplicated_audience_in_order(world: World) -> None:
    ana = world.add_contact("5511900000001", name="Ana")
    automation = await world.create([
        AudienceEntry(contact_id=ana.id, variables={"first": "A"}),
        wa("+55 11 90000-0002", name="Bia", variables={"first": "B"}),
        wa("5511900000001", variables={"first": "A again"}),  # Ana by her number: collapsed
        AudienceEntry(contact_id=ana.id),  # Ana again by id
        wa("5511900000002"),  # Bia again
        wa("5511900000003"),
    ], variables={"coupon": "X1"})
    assert (automation.status, automation.total_contacts, automation.rate_per_second) == (S.DRAFT, 3, 20.0)
    assert automation.config == {"from_number_id": str(world.number.id), "rate_per_second": 20.0,
                                 "schedule_at": None, "variables": {"coupon": "X1"}, "template": TEMPLATE}
    rows = world.recipients(automation)
    assert [(r.seq, r.whatsapp_id, r.variables, r.state, r.dispatched_at) for r in rows] == [
        (0, "5511900000001", {"first": "A"}, R.PENDING, None),
        (1, "5511900000002", {"first": "B"}, R.PENDING, None),
        (2, "5511900000003", {}, R.PENDING, None)]
    assert rows[0].contact_id == ana.id
    assert world.store.automations[automation.id].status is S.DRAFT
    assert world.store.jobs.pending() == []  # nothing is dispatched before start


async def test_create_makes_unknown_whatsapp_ids_contacts_with_their_names(world: World) -> None:
    automation = await world.create([wa("+1 650-555-0001", name="  Carla  "), wa("16505550002")])
    created = {c.whatsapp_id: c for c in world.store.contacts.values()}
    assert set(created) == {"16505550001", "16505550002"}
    assert (created["16505550001"].name, created["16505550002"].name) == ("Carla", None)
    assert all(c.organization_id == world.org for c in created.values())
    assert [r.contact_id for r in world.recipients(automation)] == [created["16505550001"].id,
                                                                   created["16505550002"].id]


async def test_create_skips_and_counts_opted_out_contacts(world: World) -> None:
    out = world.add_contact("5511900000009", opted_out=True)
    automation = await world.create([AudienceEntry(contact_id=out.id), wa("5511900000001")])
    assert automation.total_contacts == 2
    assert [(r.whatsapp_id, r.state, r.skip_reason) for r in world.recipients(automation)] == [
        ("5511900000009", R.SKIPPED, "opted_out"), ("5511900000001", R.PENDING, None)]
    counts = (await world.app.automation_stats.execute(world.admin, automation.id)).counts
    assert (counts.total, counts.pending, counts.skipped, counts.dispatched) == (2, 1, 1, 0)


async def test_a_tag_audience_freezes_the_tagged_contacts_oldest_first(world: World) -> None:
    older = world.add_contact("5511900000001", tags=["VIP"], seconds=1)
    newer = world.add_contact("5511900000002", tags=["lead", "vip"], seconds=2)
    out = world.add_contact("5511900000003", tags=["vip"], opted_out=True, seconds=3)
    world.add_contact("5511900000004", tags=["lead"], seconds=4)
    world.add_contact("5511900000005", tags=["vip"], org=uuid4())  # another organization's
    automation = await world.create_for(AudienceFilter(tag=" vip "))
    assert automation.total_contacts == 3 and automation.config["audience"] == {"tag": "vip"}
    assert [(r.contact_id, r.state, r.skip_reason) for r in world.recipients(automation)] == [
        (older.id, R.PENDING, None), (newer.id, R.PENDING, None), (out.id, R.SKIPPED, "opted_out")]
    world.add_contact("5511900000006", tags=["vip"], seconds=5)  # later contacts do not join a frozen audience
    assert len(world.recipients(automation)) == 3


async def test_a_query_audience_matches_like_the_contact_search(world: World) -> None:
    world.add_contact("5511900000001", name="Ana Silva", seconds=1)
    world.add_contact("5511900000002", name="Bia Souza", seconds=2)
    world.add_contact("5511900000003", name="Carla SILVA", tags=["vip"], seconds=3)
    by_query = await world.create_for(AudienceFilter(query="silva"))
    assert [r.whatsapp_id for r in world.recipients(by_query)] == ["5511900000001", "5511900000003"]
    both = await world.create_for(AudienceFilter(query="silva", tag="vip"))
    assert [r.whatsapp_id for r in world.recipients(both)] == ["5511900000003"]


async def test_an_audience_filter_that_matches_nobody_or_too_many_is_refused(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        world.add_contact(f"551190000000{n}", tags=["vip"], seconds=n)
    with pytest.raises(InvalidValue, match="No contact matches"):
        await world.create_for(AudienceFilter(tag="nobody"))
    with pytest.raises(InvalidValue, match="needs a tag or a query"):
        await world.create_for(AudienceFilter(tag="  ", query=""))
    monkeypatch.setattr(create_automation, "MAX_CONTACTS", 2)
    with pytest.raises(InvalidValue, match="more than 2"):
        await world.create_for(AudienceFilter(tag="vip"))
    assert world.store.automations == {} and world.store.recipients == {}


async def test_create_with_unknown_contact_ids_is_a_404_and_stores_nothing(world: World) -> None:
    stranger = world.add_contact("5511900000007", org=uuid4())  # another organization's contact
    missing = uuid4()
    with pytest.raises(ContactNotFound) as raised:
        await world.create([wa("5511900000001"), AudienceEntry(contact_id=missing),
                            AudienceEntry(contact_id=stranger.id)])
    assert str(missing) in raised.value.message and str(stranger.id) in raised.value.message
    assert world.store.automations == {} and world.store.recipients == {}
    assert [c.whatsapp_id for c in world.store.contacts.values()] == ["5511900000007"]  # nothing created


async def test_create_needs_an_active_flow_of_the_organization(world: World) -> None:
    world.store.flows[world.flow.id].status = FlowStatus.DRAFT
    with pytest.raises(FlowNotActive) as raised:
        await world.create([wa("5511900000001")])
    assert raised.value.code == "flow_not_active"
    with pytest.raises(FlowNotFound):
        await world.app.create_automation.execute(
            world.admin, CreateAutomationCommand(flow_id=uuid4(), contacts=[wa("5511900000001")]))
    other_org = actor(uuid4())
    with pytest.raises(FlowNotFound):
        await world.app.create_automation.execute(
            other_org, CreateAutomationCommand(flow_id=world.flow.id, contacts=[wa("5511900000001")]))
    assert world.store.automations == {}


async def test_template_is_required_when_anyone_is_outside_the_window(world: World) -> None:
    inside = world.add_contact("5511900000001", window=True)
    outside = world.add_contact("5511900000002")
    with pytest.raises(TemplateRequired) as raised:
        await world.create([AudienceEntry(contact_id=inside.id), AudienceEntry(contact_id=outside.id)],
                           template=None)
    assert raised.value.code == "template_required"
    assert world.store.automations == {}
    with pytest.raises(TemplateRequired):  # a new contact has no window either
        await world.create([AudienceEntry(contact_id=inside.id), wa("5511900000003")], template=None)


async def test_no_template_is_needed_when_everyone_reachable_is_inside_the_window(world: World) -> None:
    inside = world.add_contact("5511900000001", window=True)
    opted_out = world.add_contact("5511900000002", opted_out=True)  # outside the window but skipped anyway
    automation = await world.create([AudienceEntry(contact_id=inside.id), AudienceEntry(contact_id=opted_out.id)],
                                    template=None)
    assert automation.template is None and automation.total_contacts == 2


async def test_a_window_that_closed_requires_a_template(world: World) -> None:
    person = world.add_contact("5511900000001", window=True)
    world.clock.advance(hours=24)
    with pytest.raises(TemplateRequired):
        await world.create([AudienceEntry(contact_id=person.id)], template=None)


@pytest.mark.parametrize(("asked", "throughput", "expected"), [
    (None, 80, 20.0), (5, 80, 5.0), (500, 80, 80.0), (2000, 1000, 1000.0), (100, 1000, 100.0)])
async def test_rate_defaults_to_20_and_is_capped_at_the_numbers_throughput(
        world: World, asked: float | None, throughput: int, expected: float) -> None:
    world.store.numbers[world.number.id].throughput_mps = throughput
    automation = await world.create([wa("5511900000001")], rate_per_second=asked)
    assert automation.rate_per_second == expected and automation.config["rate_per_second"] == expected
    assert world.store.automations[automation.id].rate_per_second == expected


async def test_a_negative_rate_is_refused(world: World) -> None:
    with pytest.raises(InvalidValue):
        await world.create([wa("5511900000001")], rate_per_second=-1)


@pytest.mark.parametrize("template", [{"name": "Promo!"}, {"name": ""}, {"name": "ok", "components": "x"},
                                      {"name": "ok", "language": 5}])
async def test_a_malformed_template_is_refused(world: World, template: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue):
        await world.create([wa("5511900000001")], template=template)


async def test_an_empty_audience_is_refused(world: World) -> None:
    with pytest.raises(InvalidValue):
        await world.create([])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.AGENT])
async def test_only_admins_create_and_control(world: World, role: Role) -> None:
    automation = await world.create([wa("5511900000001")])
    who = actor(world.org, role)
    with pytest.raises(PermissionDenied):
        await world.app.create_automation.execute(
            who, CreateAutomationCommand(flow_id=world.flow.id, contacts=[wa("5511900000002")], template=TEMPLATE))
    for control in (StartAutomation, PauseAutomation, ResumeAutomation, CancelAutomation):
        with pytest.raises(PermissionDenied):
            await control(uow=world.uow, clock=world.clock).execute(who, automation.id)
    assert len(world.store.automations) == 1 and world.automation(automation).status is S.DRAFT
    counts = (await world.app.automation_stats.execute(who, automation.id)).counts
    assert counts.total == 1  # but they may read


# =========================================================================== control


async def test_start_enqueues_one_dispatch_job_and_a_second_start_is_refused(world: World) -> None:
    automation = await world.create([wa("5511900000001")])
    await world.start(automation)
    assert world.automation(automation).status is S.RUNNING
    [job] = world.store.jobs.pending(DispatchAutomationJob.entrypoint)
    assert job.payload == {"organization_id": str(world.org), "automation_id": str(automation.id)}
    assert (job.dedupe_key, job.delay) == (f"dispatch:{automation.id}", None)
    with pytest.raises(AutomationAlreadyStarted):
        await world.start(automation)
    assert len(world.store.jobs.pending(DispatchAutomationJob.entrypoint)) == 1


async def test_start_with_a_future_schedule_delays_the_dispatch_job(world: World) -> None:
    automation = await world.create([wa("5511900000001")], schedule_at=T0 + timedelta(minutes=30))
    await world.start(automation)
    assert world.automation(automation).status is S.SCHEDULED
    [job] = world.store.jobs.pending(DispatchAutomationJob.entrypoint)
    assert job.delay == timedelta(minutes=30)
    world.store.jobs.take()
    assert await world.dispatch(automation) == 0  # picked early: waits again, sends nobody
    assert world.outbound() == [] and world.automation(automation).status is S.SCHEDULED
    [again] = world.store.jobs.pending(DispatchAutomationJob.entrypoint)
    assert again.delay == timedelta(minutes=30)
    world.store.jobs.take()
    world.clock.advance(minutes=30)
    assert await world.dispatch(automation) == 1
    assert world.automation(automation).phase == "sending"  # until its one send is final
    assert world.automation(automation).started_at == T0 + timedelta(minutes=30)


async def test_other_organizations_automations_are_not_found(world: World) -> None:
    automation = await world.create([wa("5511900000001")])
    stranger = actor(uuid4())
    for control in (StartAutomation, PauseAutomation, ResumeAutomation, CancelAutomation):
        with pytest.raises(AutomationNotFound):
            await control(uow=world.uow, clock=world.clock).execute(stranger, automation.id)
    with pytest.raises(AutomationNotFound):
        await world.app.list_recipients.execute(stranger, automation.id, state=None, limit=10, offset=0)
    assert world.automation(automation).status is S.DRAFT


# =========================================================================== dispatch


async def test_dispatch_queues_one_interpolated_template_per_recipient_then_completes(world: World) -> None:
    ana = world.add_contact("5511900000001", name="Ana")
    automation = await world.create([
        AudienceEntry(contact_id=ana.id, variables={"first": "A", "coupon": "VIP"}),
        wa("5511900000002", name="Bia", variables={"first": "B"}),
        wa("5511900000003")], variables={"coupon": "X1", "first": "friend"}, rate_per_second=7)
    await world.start(automation)
    world.clock.advance(seconds=2)
    assert await world.dispatch(automation) == 3
    messages = world.outbound()
    by_contact = {m.contact_id: m for m in messages}
    texts = {world.store.contacts[cid].whatsapp_id: m.content["template"]["components"][0]["parameters"][0]["text"]
             for cid, m in by_contact.items()}
    assert texts == {"5511900000001": "A / Ana / VIP", "5511900000002": "B / Bia / X1",
                     "5511900000003": "friend /  / X1"}
    assert all((m.type, m.status, m.source, m.content["template"]["name"], m.content["template"]["language"])
               == ("template", "queued", "automation", "promo", "pt_BR") for m in messages)
    assert set(world.store.jobs.wakes) == {(OUTBOX_TOPIC, f"{world.org}:{world.number.id}")}  # the sender
    rows = world.recipients(automation)
    assert [(r.state, r.dispatched_at) for r in rows] == [(R.PENDING, world.clock.now())] * 3
    assert {r.message_id for r in rows} == {m.id for m in messages}
    assert world.starter.starts == []  # template mode: the flow starts on the reply
    # rate 7/s: batches of ceil(7 * 0.25) = 2 recipients per reservation: 2, then 1 (a short batch completes)
    assert world.pacer.reservations == [(f"automation:{automation.id}", 7.0)] * 2
    stored = world.automation(automation)
    assert (stored.status, stored.phase, stored.dispatch_finished_at, stored.finished_at) == (
        S.RUNNING, "sending", world.clock.now(), None)  # every opening queued, none sent yet
    assert await world.dispatch(automation) == 0  # a late duplicate job sends nobody again
    assert len(world.outbound()) == 3
    for message in messages[:2]:
        await status(world, message.id, MessageStatus.SENT)
    assert world.automation(automation).status is S.RUNNING
    world.clock.advance(seconds=1)
    await status(world, messages[2].id, MessageStatus.FAILED, code=131026, title="Undeliverable")
    stored = world.automation(automation)
    assert (stored.status, stored.finished_at) == (S.COMPLETED, world.clock.now())  # every send is final


async def test_pause_is_seen_before_the_next_recipient(world: World) -> None:
    # at 4/s a batch is one recipient (a quarter second's worth), so the pause is seen before the third
    automation = await world.create([wa(f"551190000000{n}") for n in range(1, 6)], rate_per_second=4)
    await world.start(automation)

    async def pause_before_the_third(n: int) -> None:
        if n == 3:
            await world.app.pause_automation.execute(world.admin, automation.id)

    world.pacer.hook = pause_before_the_third
    assert await world.dispatch(automation) == 2
    assert len(world.outbound()) == 2
    assert [r.dispatched_at is not None for r in world.recipients(automation)] == [True, True, False, False, False]
    assert world.automation(automation).status is S.PAUSED
    world.pacer.hook = None
    world.store.jobs.take()
    await world.app.resume_automation.execute(world.admin, automation.id)
    [job] = world.store.jobs.pending(DispatchAutomationJob.entrypoint)
    assert job.dedupe_key is None  # a resumed dispatcher is never dropped for a finishing one
    assert await world.dispatch(automation) == 3
    assert sorted(m.contact_id for m in world.outbound()) == sorted(r.contact_id for r in world.recipients(automation))
    assert world.automation(automation).phase == "sending"


async def test_cancel_is_seen_before_the_next_recipient_and_is_final(world: World) -> None:
    automation = await world.create([wa(f"551190000000{n}") for n in range(1, 4)], rate_per_second=4)
    await world.start(automation)

    async def cancel_before_the_second(n: int) -> None:
        if n == 2:
            await world.app.cancel_automation.execute(world.admin, automation.id)

    world.pacer.hook = cancel_before_the_second
    assert await world.dispatch(automation) == 1
    assert await world.dispatch(automation) == 0
    assert len(world.outbound()) == 1 and world.automation(automation).status is S.CANCELLED
    with pytest.raises(Exception) as raised:
        await world.app.resume_automation.execute(world.admin, automation.id)
    assert raised.value.code == "automation_state_conflict"  # type: ignore[attr-defined]


async def test_flow_mode_starts_the_flow_and_skips_a_contact_busy_in_another_flow(world: World) -> None:
    people = [world.add_contact(f"551190000000{n}", window=True) for n in range(1, 4)]
    world.starter.busy.add(people[1].id)
    automation = await world.create([AudienceEntry(contact_id=p.id, variables={"n": i})
                                     for i, p in enumerate(people)], template=None, variables={"d": 1})
    await world.start(automation)
    assert await world.dispatch(automation) == 2
    rows = world.recipients(automation)
    assert [(r.state, r.skip_reason) for r in rows] == [(R.PENDING, None), (R.SKIPPED, "contact_busy_in_another_flow"),
                                                        (R.PENDING, None)]
    assert [(s.contact_id, s.variables, s.trigger, s.automation_id, s.flow_id) for s in world.starter.starts] == [
        (p.id, {"d": 1, "n": i}, "automation", automation.id, world.flow.id) for i, p in enumerate(people)]
    openings = {m.contact_id: m.id for m in world.outbound()}
    assert rows[0].message_id == openings[people[0].id] and rows[2].message_id == openings[people[2].id]
    assert rows[0].execution_id == world.starter.starts[0].execution_id and rows[1].execution_id is None
    counts = (await world.app.automation_stats.execute(world.admin, automation.id)).counts
    assert (counts.pending, counts.skipped, counts.dispatched) == (2, 1, 2)
    assert world.automation(automation).phase == "sending"


async def test_a_contact_that_opted_out_after_creation_is_skipped_at_dispatch(world: World) -> None:
    automation = await world.create([wa("5511900000001"), wa("5511900000002")])
    first = next(c for c in world.store.contacts.values() if c.whatsapp_id == "5511900000001")
    world.store.contacts[first.id].opted_out = True
    await world.start(automation)
    assert await world.dispatch(automation) == 1
    assert [(r.state, r.skip_reason) for r in world.recipients(automation)] == [
        (R.SKIPPED, "opted_out"), (R.PENDING, None)]
    assert [m.contact_id for m in world.outbound()] != [first.id] and len(world.outbound()) == 1


async def test_dispatch_of_a_draft_or_unknown_automation_does_nothing(world: World) -> None:
    automation = await world.create([wa("5511900000001")])
    assert await world.dispatch(automation) == 0
    assert await world.dispatcher().execute(world.org, uuid4()) == 0
    assert world.outbound() == [] and world.automation(automation).status is S.DRAFT


async def test_two_dispatchers_never_take_the_same_recipient(world: World) -> None:
    """SKIP LOCKED: a recipient held by one open transaction is invisible to another."""
    automation = await world.create([wa(f"551190000000{n}") for n in range(1, 5)])
    async with world.uow(world.org) as first, world.uow(world.org) as second:
        a = await first.automations.next_pending(automation.id, 2)
        b = await second.automations.next_pending(automation.id, 2)
    assert [r.seq for r in a] == [0, 1] and [r.seq for r in b] == [2, 3]


# =========================================================================== tracking


async def dispatched(world: World, n: int = 2, **config: Any) -> tuple[Automation, list[Recipient]]:
    automation = await world.create([wa(f"551190000000{i}", variables={"first": f"C{i}"})
                                     for i in range(1, n + 1)], **config)
    await world.start(automation)
    await world.dispatch(automation)
    stored = world.store.automations[automation.id]  # as if more recipients were still to come
    stored.status, stored.dispatch_finished_at = S.RUNNING, None
    return automation, world.recipients(automation)


def tracker(world: World, keywords: tuple[str, ...] | None = None) -> AutomationTracker:
    if keywords is None:
        return AutomationTracker(flows=world.starter)
    return AutomationTracker(flows=world.starter, opt_out_keywords=keywords)


async def status(world: World, message_id: UUID, value: MessageStatus, *, code: int | None = None,
                 title: str | None = None, credentials: bool = False) -> bool:
    """What the sender and the webhook processor do: record the status (automations follow)."""
    async with world.uow(world.org) as uow:
        message = await uow.messages.get(message_id)
        assert message is not None
        recorded = await StatusRecorder(automations=tracker(world)).record(uow, [StatusChange(
            message=message, status=value, at=world.clock.now(), error_code=code, error_title=title,
            credentials_rejected=credentials)],
            world.clock.now())
        await uow.commit()
    return message_id in recorded.moved


async def test_recipient_state_moves_with_the_opening_message(world: World) -> None:
    automation, [first, second] = await dispatched(world)
    assert first.message_id is not None and second.message_id is not None
    await status(world, first.message_id, MessageStatus.SENT)
    assert world.store.recipients[first.id].state is R.SENT
    await status(world, first.message_id, MessageStatus.READ)
    await status(world, first.message_id, MessageStatus.DELIVERED)  # late: ignored
    assert world.store.recipients[first.id].state is R.READ
    await status(world, second.message_id, MessageStatus.FAILED, code=131047, title="Re-engagement message")
    failed = world.store.recipients[second.id]
    assert (failed.state, failed.error_code, failed.error_title) == (R.FAILED, 131047, "Re-engagement message")
    counts = (await world.app.automation_stats.execute(world.admin, automation.id)).counts
    assert (counts.read, counts.failed, counts.pending, counts.sent) == (1, 1, 0, 0)
    assert world.automation(automation).status is S.RUNNING


async def test_an_auth_failure_pauses_the_automation_and_returns_the_recipient_to_pending(world: World) -> None:
    automation, [first, second] = await dispatched(world)
    assert first.message_id and second.message_id
    await status(world, first.message_id, MessageStatus.FAILED, code=10, title="Permission denied", credentials=True)
    stored = world.automation(automation)
    assert stored.status is S.PAUSED
    assert stored.paused_reason is not None and "error 10" in stored.paused_reason and "token" in stored.paused_reason
    back = world.store.recipients[first.id]
    assert (back.state, back.message_id, back.dispatched_at, back.error_code) == (R.PENDING, None, None, None)
    await status(world, second.message_id, MessageStatus.FAILED, code=10, title="Permission denied", credentials=True)
    assert world.store.recipients[second.id].dispatched_at is None
    assert world.automation(automation).paused_reason == stored.paused_reason
    # resume: both are dispatched again, each with one new opening message
    await world.app.resume_automation.execute(world.admin, automation.id)
    assert world.automation(automation).paused_reason is None
    assert await world.dispatch(automation) == 2
    rows = world.recipients(automation)
    assert {r.message_id for r in rows}.isdisjoint({first.message_id, second.message_id})
    assert all(r.message_id is not None and r.dispatched_at is not None for r in rows)


async def test_a_status_of_a_message_that_is_no_automation_opening_is_ignored(world: World) -> None:
    automation, _ = await dispatched(world)
    person = next(iter(world.store.contacts.values()))
    other = Message(id=uuid4(), organization_id=world.org, number_id=world.number.id, contact_id=person.id,
                    direction=MessageDirection.OUTBOUND, type="text", content={"text": "hi"}, status="queued",
                    occurred_at=T0, created_at=T0, updated_at=T0)
    world.store.messages[other.id] = other
    await status(world, other.id, MessageStatus.FAILED, code=190)
    assert world.automation(automation).status is S.RUNNING


def inbound(world: World, person: Contact, text: str) -> tuple[Message, InboundMessage]:
    message = Message(id=uuid4(), organization_id=world.org, number_id=world.number.id, contact_id=person.id,
                      direction=MessageDirection.INBOUND, type="text", content={"text": text}, status="received",
                      occurred_at=world.clock.now(), created_at=world.clock.now(), updated_at=world.clock.now())
    parsed = InboundMessage(phone_number_id=world.number.phone_number_id, display_phone_number=None,
                            wamid=f"wamid.{uuid4().hex}", from_wa_id=person.whatsapp_id, from_user_id=None,
                            profile_name=None, timestamp=world.clock.now(), type=InboundMessageType.TEXT, text=text)
    return message, parsed


async def say(world: World, person: Contact, text: str, keywords: tuple[str, ...] | None = None) -> InboundOutcome:
    """What the webhook processor does with a new inbound message: route it (opt-out, automation, flow)."""
    message, parsed = inbound(world, person, text)
    router = InboundRouter(automations=tracker(world, keywords), runtime=FlowRuntime())
    async with world.uow(world.org) as uow:
        conversations = await uow.conversations.record_inbound_many(
            [(world.number.id, person.id, world.clock.now(), 1)], world.clock.now())
        batch = await router.prepare(uow, conversations)
        contact_now = await uow.contacts.get(person.id)
        assert contact_now is not None
        outcome = await router.route(uow, batch, world.number, contact_now, message, parsed, world.clock.now())
        await uow.commit()
    return outcome


async def test_stop_opts_the_contact_out_and_skips_its_undispatched_recipients(world: World) -> None:
    person = world.add_contact("5511900000001")
    sent_one = await world.create([AudienceEntry(contact_id=person.id)])
    await world.start(sent_one)
    await world.dispatch(sent_one)
    waiting = await world.create([AudienceEntry(contact_id=person.id), wa("5511900000002")])
    await world.start(waiting)
    world.clock.advance(minutes=1)
    assert await say(world, person, "  stop ") is InboundOutcome.OPTED_OUT
    stored = world.store.contacts[person.id]
    assert (stored.opted_out, stored.opted_out_at) == (True, world.clock.now())
    [dispatched_row] = world.recipients(sent_one)
    assert (dispatched_row.state, dispatched_row.skip_reason) == (R.PENDING, None)  # already sent: left alone
    assert [(r.state, r.skip_reason) for r in world.recipients(waiting)] == [(R.SKIPPED, "opted_out"),
                                                                            (R.PENDING, None)]
    assert world.starter.starts == []
    assert await world.dispatch(waiting) == 1
    assert [m.contact_id for m in world.outbound()].count(person.id) == 1


async def test_opt_out_keywords_are_configurable(world: World) -> None:
    person = world.add_contact("5511900000001")
    automation = await world.create([AudienceEntry(contact_id=person.id)])
    await world.start(automation)
    await say(world, person, "STOP", keywords=("basta",))
    assert world.store.contacts[person.id].opted_out is False
    assert world.recipients(automation)[0].state is R.PENDING
    await say(world, person, "Basta", keywords=("basta",))
    assert world.store.contacts[person.id].opted_out is True
    assert world.recipients(automation)[0].state is R.SKIPPED


async def test_a_reply_after_the_template_starts_the_flow(world: World) -> None:
    automation, [first, second] = await dispatched(world, variables={"coupon": "X1"})
    assert first.message_id
    await status(world, first.message_id, MessageStatus.DELIVERED)
    person = world.store.contacts[first.contact_id]
    assert await say(world, person, "yes please") is InboundOutcome.AUTOMATION
    replied = world.store.recipients[first.id]
    [start] = world.starter.starts
    assert (replied.state, replied.execution_id) == (R.REPLIED, start.execution_id)
    assert (start.flow_id, start.contact_id, start.variables, start.trigger, start.automation_id) == (
        world.flow.id, person.id, {"coupon": "X1", "first": "C1"}, "automation_reply", automation.id)
    assert world.store.recipients[second.id].state is R.PENDING
    await say(world, person, "another message")  # the flow runs already: no second start
    assert len(world.starter.starts) == 1 and world.store.recipients[first.id].state is R.REPLIED


async def test_a_reply_in_flow_mode_only_marks_the_recipient(world: World) -> None:
    person = world.add_contact("5511900000001", window=True)
    automation = await world.create([AudienceEntry(contact_id=person.id)], template=None)
    await world.start(automation)
    await world.dispatch(automation)
    outcome = await say(world, person, "hello")
    [row] = world.recipients(automation)
    assert row.state is R.REPLIED and len(world.starter.starts) == 1  # only the dispatch's start
    assert outcome is not InboundOutcome.AUTOMATION  # the contact's running flow gets it


async def test_a_message_from_a_contact_not_yet_dispatched_changes_nothing(world: World) -> None:
    person = world.add_contact("5511900000001")
    automation = await world.create([AudienceEntry(contact_id=person.id)])
    await world.start(automation)
    await say(world, person, "hi")
    [row] = world.recipients(automation)
    assert (row.state, row.dispatched_at) == (R.PENDING, None) and world.starter.starts == []


async def test_a_reply_to_a_cancelled_automation_does_not_start_the_flow(world: World) -> None:
    automation, [first, _] = await dispatched(world)
    await world.app.cancel_automation.execute(world.admin, automation.id)
    await say(world, world.store.contacts[first.contact_id], "yes")
    assert world.starter.starts == []


# =========================================================================== reads


async def test_recipients_page_and_filter_with_the_flow_outcome(world: World) -> None:
    automation, rows = await dispatched(world, n=5)
    world.store.execution_status[uuid4()] = "completed"
    executed = world.store.recipients[rows[0].id]
    executed.execution_id = next(iter(world.store.execution_status))
    list_recipients = world.app.list_recipients
    page, total = await list_recipients.execute(world.admin, automation.id, state=None, limit=2, offset=1)
    assert ([r.seq for r in page], total) == ([1, 2], 5)
    done, total = await list_recipients.execute(world.admin, automation.id, state=R.COMPLETED, limit=10, offset=0)
    assert ([(r.seq, r.state) for r in done], total) == ([(0, R.COMPLETED)], 1)
    pending, total = await list_recipients.execute(world.admin, automation.id, state=R.PENDING, limit=10, offset=0)
    assert ([r.seq for r in pending], total) == ([1, 2, 3, 4], 4)


async def test_stats_tell_dispatched_and_accepted_rates_apart_and_complete_when_every_send_is_final(
        world: World) -> None:
    automation = await world.create([wa(f"551190000000{n}") for n in range(1, 5)])
    await world.start(automation)
    world.clock.advance(seconds=2)
    await world.dispatch(automation)  # all 4 queued 2 s after the start
    stats = world.app.automation_stats
    progress = await stats.execute(world.admin, automation.id)
    assert (progress.automation.phase, progress.counts.dispatched, progress.dispatched_per_second) == (
        "sending", 4, 2.0)
    assert (progress.counts.accepted, progress.accepted_per_second) == (0, 0.0)
    messages = world.outbound()
    world.clock.advance(seconds=2)
    for message in messages[:2]:
        await status(world, message.id, MessageStatus.SENT)  # WhatsApp accepted 2 in 4 s
    progress = await stats.execute(world.admin, automation.id)
    assert (progress.counts.accepted, progress.accepted_per_second, progress.automation.phase) == (2, 0.5, "sending")
    world.clock.advance(seconds=4)
    for message in messages[2:]:
        await status(world, message.id, MessageStatus.SENT)
    world.clock.advance(minutes=5)  # later reads do not dilute the rate of a finished campaign
    progress = await stats.execute(world.admin, automation.id)
    assert (progress.automation.status, progress.counts.accepted, progress.accepted_per_second) == (
        S.COMPLETED, 4, 0.5)
    assert progress.dispatched_per_second == 2.0


async def test_a_send_whose_outcome_stayed_unknown_fails_its_recipient_when_reconciled(world: World) -> None:
    """A worker died between claiming the send and hearing Graph's answer: the sweep fails the message (never
    resends it) and the recipient is reported failed with that reason, not left pending forever."""

    automation, [first, second] = await dispatched(world)
    assert first.message_id and second.message_id
    world.store.messages[first.message_id].send_claimed_at = world.clock.now()
    await status(world, second.message_id, MessageStatus.SENT)
    world.clock.advance(minutes=11)
    sweep = world.app.reconcile_sends
    assert await sweep.execute() == 1
    assert await sweep.execute() == 0  # the other one was confirmed: left alone
    failed = world.store.recipients[first.id]
    assert failed.state is R.FAILED and failed.error_title is not None
    assert failed.error_title.startswith("Delivery outcome unknown")
    assert world.store.messages[first.message_id].status == "failed"
    counts = (await world.app.automation_stats.execute(world.admin, automation.id)).counts
    assert (counts.failed, counts.sent, counts.pending) == (1, 1, 0)


async def test_a_dispatch_that_gave_up_pauses_the_automation_with_the_reason_and_resume_continues(
        world: World) -> None:
    automation, _ = await dispatched(world)
    stop = world.app.stop_automation_dispatch
    assert await stop.execute(world.org, automation.id, "Dispatching stopped after repeated errors (boom)")
    stored = world.automation(automation)
    assert (stored.status, stored.paused_reason) == (S.PAUSED, "Dispatching stopped after repeated errors (boom)")
    assert not await stop.execute(world.org, automation.id, "again")  # already paused: nothing changes
    await world.app.resume_automation.execute(world.admin, automation.id)
    assert world.automation(automation).status is S.RUNNING and world.automation(automation).paused_reason is None
