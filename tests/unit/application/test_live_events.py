"""Live events on the fakes: each producer writes its event in the transaction of its change (and only then),
payloads stay small and secret-free, automation progress is throttled, tickets are single use."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application import events
from application.jobs import PublishAutomationProgress
from application.ports.events import StoredEvent
from domain.events import PREVIEW_LENGTH, EventType, InvalidEventTicket, preview
from domain.identity import Role
from tests.bootstrap import bootstrap_test_app
from tests.fake_graph import builders
from tests.fake_uow import FakeUnitOfWorkFactory
from tests.fakes import T0, FakeClock
from tests.unit.application.test_automations import World as Campaign
from tests.unit.application.test_automations import campaign_world, wa
from tests.unit.application.test_flows import ASK, ASK_EDGES, World, actor, edge, node
from tests.unit.application.test_flows import ORG as FLOW_ORG
from tests.unit.application.test_whatsapp_process_inbox import ORG, PNID, USER
from tests.unit.application.test_whatsapp_process_inbox import World as Inbox
from tests.unit.vault.kit import Vault
from tests.unit.vault.kit import actor as vault_actor

pytestmark = pytest.mark.unit


def logged(store: Any, kind: EventType | None = None) -> list[StoredEvent]:
    return [e for e, _ in store.events if kind is None or e.type == kind.value]


# --------------------------------------------------------------------------- the webhook pipeline


async def test_an_inbound_batch_tells_each_new_message_and_conversation_once() -> None:
    inbox = Inbox()
    one = builders.inbound_text(PNID, USER, "first", wamid="wamid.one")
    two = builders.inbound_text(PNID, "5511900000002", "second " * 40, wamid="wamid.two")
    assert await inbox.deliver(builders.batch(one, two)) == {"inbound": 2}
    received = logged(inbox.store, EventType.MESSAGE_RECEIVED)
    stored = {m.id: m for m in inbox.inbound()}
    assert {UUID(e.payload["message_id"]) for e in received} == set(stored)
    by_text = {e.payload["preview"]: e for e in received}
    assert "first" in by_text and all(e.organization_id == ORG for e in received)
    long = next(p for p in by_text if p != "first")
    assert len(long) == PREVIEW_LENGTH and long.endswith("\u2026")
    conversations = logged(inbox.store, EventType.CONVERSATION_UPDATED)
    assert sorted(e.payload["contact_id"] for e in conversations) == sorted(
        str(m.contact_id) for m in stored.values())
    assert {e.payload["reason"] for e in conversations} == {"inbound"}
    before = len(inbox.store.events)
    assert await inbox.deliver(builders.batch(one)) in (None, {"duplicates": 1})  # a redelivery tells nothing
    assert len(inbox.store.events) == before


async def test_a_status_that_moves_a_message_is_told_and_a_redelivery_is_not() -> None:
    inbox = Inbox()
    message = inbox.queue_outbound(status="sent", wamid="wamid.out")
    assert await inbox.deliver(builders.status_update(PNID, "wamid.out", "delivered", USER)) == {"statuses": 1}
    [told] = logged(inbox.store, EventType.MESSAGE_STATUS)
    assert told.payload == {"message_id": str(message.id), "contact_id": str(message.contact_id),
                            "number_id": str(message.number_id), "status": "delivered", "error_code": None}
    await inbox.deliver(builders.status_update(PNID, "wamid.out", "sent", USER, timestamp=T0))  # behind: no move
    assert len(logged(inbox.store, EventType.MESSAGE_STATUS)) == 1


# --------------------------------------------------------------------------- flows and conversations


async def test_a_finished_execution_and_a_handoff_and_its_release_are_told() -> None:
    w = World()
    await w.flow([node("s", "start"), node("h", "handoff", text="A human will answer", reason="vip")],
                 [edge("s", "h")], {"type": "default"})
    await w.inbound("hi")
    [finished] = logged(w.uow.store, EventType.FLOW_EXECUTION_FINISHED)
    assert finished.payload["status"] == "handed_off" and finished.payload["execution_id"] == str(w.execution().id)
    [handoff] = logged(w.uow.store, EventType.CONVERSATION_UPDATED)
    assert (handoff.payload["reason"], handoff.payload["handed_off"]) == ("handoff", True)
    await w.app.release_conversation.execute(actor(Role.AGENT), w.contact.id)
    released = logged(w.uow.store, EventType.CONVERSATION_UPDATED)[-1]
    assert (released.payload["reason"], released.payload["handed_off"], released.payload["state"]) == (
        "closed", False, "closed")


async def test_a_running_execution_tells_nothing_until_it_expires() -> None:
    w = World()
    await w.flow(ASK, ASK_EDGES, {"type": "default"})
    await w.inbound("hi")
    assert logged(w.uow.store, EventType.FLOW_EXECUTION_FINISHED) == []
    w.clock.advance(hours=2)
    assert await w.app.expire_flow_executions.execute() == 1
    [expired] = logged(w.uow.store, EventType.FLOW_EXECUTION_FINISHED)
    assert expired.payload["status"] == "expired" and expired.organization_id == FLOW_ORG


# --------------------------------------------------------------------------- vault


async def test_a_rotation_is_told_without_the_value() -> None:
    vault, admin = Vault(), vault_actor()
    secret = await vault.secret(admin, value="old-value-123")
    await vault.rotate.execute(admin, secret.id, "new-value-456")
    await vault.activate.execute(admin, secret.id)
    await vault.rotate.execute(admin, secret.id)  # a re-key
    told = logged(vault.uow.store, EventType.SECRET_ROTATED)
    assert [(e.payload["kind"], e.payload["version"]) for e in told] == [("value", 2), ("rekey", 3)]
    assert all("value-" not in repr(e.payload) for e in told)


async def test_a_failed_rotation_tells_nothing() -> None:
    vault, admin = Vault(), vault_actor()
    secret = await vault.secret(admin)
    await vault.rotate.execute(admin, secret.id, "new-value-456")
    with pytest.raises(Exception):  # noqa: B017 - a second value before the first is verified: refused
        await vault.rotate.execute(admin, secret.id, "newer-value-789")
    assert len(logged(vault.uow.store, EventType.SECRET_ROTATED)) == 1


# --------------------------------------------------------------------------- automation progress


async def test_progress_is_one_job_per_automation_and_window_after_the_window_closes() -> None:
    factory = FakeUnitOfWorkFactory()
    automation, other = uuid4(), uuid4()
    now = T0 + timedelta(milliseconds=30)
    async with factory(ORG) as uow:
        for _ in range(50):  # a burst of changes
            await events.progress_changed(uow, [(automation, ORG), (other, ORG)], now)
        await events.progress_changed(uow, [(automation, ORG)], now + timedelta(milliseconds=200))
        await events.progress_changed(uow, [(automation, ORG)], now + timedelta(milliseconds=260))  # next window
        await uow.commit()
    jobs = [j for j in factory.store.jobs.jobs if j.entrypoint == PublishAutomationProgress.entrypoint]
    assert sorted((j.payload["automation_id"], j.delay) for j in jobs) == sorted([
        (str(automation), timedelta(milliseconds=470)), (str(other), timedelta(milliseconds=470)),
        (str(automation), timedelta(milliseconds=460))])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=40))
def test_progress_is_throttled_to_one_per_window_and_never_before_a_change(offsets: list[int]) -> None:
    """Whatever the times of the changes: one job per 250 ms window holding a change, each due after its
    window (so after every change in it) and within 500 ms of the window's first change."""
    import asyncio

    async def run() -> None:
        factory = FakeUnitOfWorkFactory()
        automation = uuid4()
        async with factory(ORG) as uow:
            for offset in offsets:
                await events.progress_changed(uow, [(automation, ORG)], T0 + timedelta(milliseconds=offset))
            await uow.commit()
        jobs = factory.store.jobs.jobs
        base = int(T0.timestamp() * 1000)
        windows = {(base + offset) // 250 for offset in offsets}
        assert len(jobs) == len(windows)
        for window in windows:
            first = min(base + o for o in offsets if (base + o) // 250 == window)
            due = first + (jobs_delay := next(j.delay for j in jobs if j.dedupe_key.endswith(f":{window}")))\
                .total_seconds() * 1000
            assert (window + 1) * 250 <= due <= first + 500, (first, jobs_delay)

    asyncio.run(run())


@pytest.fixture
def world() -> Campaign:
    return campaign_world()


async def test_the_progress_job_tells_the_committed_counts(world: Campaign) -> None:
    automation = await world.create([wa("5511900000001"), wa("5511900000002"), wa("5511900000003")])
    await world.start(automation)
    jobs = world.store.jobs.take(PublishAutomationProgress.entrypoint)
    assert [j.payload["automation_id"] for j in jobs] == [str(automation.id)]
    assert await world.app.publish_automation_progress.execute(PublishAutomationProgress.decode(jobs[0].payload))
    [told] = logged(world.store, EventType.AUTOMATION_PROGRESS)
    assert told.payload["automation_id"] == str(automation.id) and told.payload["counts"]["total"] == 3
    assert (told.payload["status"], told.payload["counts"]["pending"]) == ("running", 3)
    await world.dispatch(automation)  # recipients move: progress again, with the new counts
    [job] = world.store.jobs.take(PublishAutomationProgress.entrypoint)
    await world.app.publish_automation_progress.execute(PublishAutomationProgress.decode(job.payload))
    assert logged(world.store, EventType.AUTOMATION_PROGRESS)[-1].payload["counts"]["dispatched"] == 3


# --------------------------------------------------------------------------- tickets and retention


async def test_a_ticket_is_single_use_hashed_and_expires_after_60_seconds() -> None:
    factory, clock = FakeUnitOfWorkFactory(), FakeClock(T0)
    app = bootstrap_test_app(uow=factory, clock=clock)
    issue, redeem = app.issue_event_ticket, app.redeem_event_ticket
    viewer = actor(Role.VIEWER)
    issued = await issue.execute(viewer)
    assert issued.expires_at == T0 + timedelta(seconds=60)
    assert issued.ticket not in repr(factory.store.event_tickets)
    listener = await redeem.execute(issued.ticket)
    assert (listener.organization_id, listener.user_id) == (viewer.organization_id, viewer.user_id)
    with pytest.raises(InvalidEventTicket):
        await redeem.execute(issued.ticket)
    late = await issue.execute(viewer)
    clock.advance(seconds=60)
    with pytest.raises(InvalidEventTicket):
        await redeem.execute(late.ticket)
    for bad in ("", "x" * 201, "unknown"):
        with pytest.raises(InvalidEventTicket):
            await redeem.execute(bad)


async def test_the_purge_deletes_old_events_and_remembers_how_far_per_organization() -> None:
    factory, clock = FakeUnitOfWorkFactory(), FakeClock(T0)
    other = uuid4()
    for org, at in ((ORG, T0), (other, T0), (ORG, T0 + timedelta(hours=2))):
        async with factory(org) as uow:
            uow.events._now = at  # type: ignore[attr-defined]  # the fake's insertion time
            uow.events.append(EventType.SECRET_ROTATED, {"n": 1})
            await uow.commit()
    clock.advance(hours=25)
    purge = bootstrap_test_app(uow=factory, clock=clock, arguments={"purge_events": {"batch_size": 1}}).purge_events
    assert await purge.execute() == 2
    async with factory() as uow:
        assert (await uow.events.purged_through(ORG), await uow.events.purged_through(other)) == (1, 2)
        assert [e.id for e in await uow.events.after(ORG, 0, 10)] == [3]


def test_preview_is_short_and_only_for_text() -> None:
    assert preview(None) is None and preview("") is None and preview({"a": 1}) is None
    assert preview("hi") == "hi" and len(preview("x" * 500) or "") == PREVIEW_LENGTH
