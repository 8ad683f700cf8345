"""The automation repository on PostgreSQL: counts aggregated in SQL (100k recipients, joined with the flow
executions), next_pending with SKIP LOCKED across concurrent transactions, the recipients listing, scoping."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.automations import Automation, AutomationStatus, Recipient, RecipientState
from domain.channel import NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.flows import ExecutionState, ExecutionStatus
from domain.flows.records import Flow, FlowExecution, FlowStatus
from tests.e2e.support import plain_dsn
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
R = RecipientState
BIG = 100_000


async def setup(uow_factory: SqlAlchemyUnitOfWorkFactory, contacts: int,
                status: AutomationStatus = AutomationStatus.RUNNING) -> tuple[UUID, Flow, WhatsAppNumber,
                                                                                  list[Contact], Automation]:
    org, _ = await make_org(uow_factory)
    flow = Flow(id=uuid4(), organization_id=org, name="F", status=FlowStatus.ACTIVE, created_at=T0, updated_at=T0)
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id=str(random.randint(10**12, 10**13)),
                            waba_id=None, phone_number="1555", display_name="N", status=NumberStatus.ACTIVE,
                            verified=True, access_token_secret_id=uuid4(), created_at=T0, updated_at=T0)
    people = [Contact(id=uuid4(), organization_id=org, whatsapp_id=f"5511{n:09d}", created_at=T0, updated_at=T0)
              for n in range(contacts)]
    automation = Automation(id=uuid4(), organization_id=org, flow_id=flow.id, number_id=number.id, status=status,
                            config={"template": {"name": "promo"}}, rate_per_second=20, total_contacts=contacts,
                            created_at=T0, updated_at=T0)
    async with uow_factory(org) as uow:
        await uow.flows.add(flow)
        await uow.numbers.add(number)
        await uow.contacts.add_many(people)
        await uow.automations.add(automation)
        await uow.commit()
    return org, flow, number, people, automation


def recipient(automation: Automation, person: Contact, seq: int, **fields: object) -> Recipient:
    return Recipient(id=uuid4(), automation_id=automation.id, organization_id=automation.organization_id,
                     contact_id=person.id, whatsapp_id=person.whatsapp_id, seq=seq, updated_at=T0,
                     **fields)  # type: ignore[arg-type]


async def add_execution(uow_factory: SqlAlchemyUnitOfWorkFactory, flow: Flow, number: WhatsAppNumber,
                        person: Contact, status: ExecutionStatus) -> UUID:
    execution = FlowExecution(id=uuid4(), organization_id=flow.organization_id, flow_id=flow.id, version=1,
                              contact_id=person.id, number_id=number.id,
                              state=ExecutionState(status=status, started_at=T0, finished_at=T0),
                              trigger="automation", started_at=T0, updated_at=T0,
                              expires_at=T0 + timedelta(hours=72))
    async with uow_factory(flow.organization_id) as uow:
        await uow.flow_executions.add(execution)
        await uow.commit()
    return execution.id


@pytest.mark.slow
async def test_counts_are_aggregated_in_sql_over_100k_recipients(uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                                 database_url: str) -> None:
    org, flow, number, people, automation = await setup(uow_factory, 0)
    # 100k contacts and recipients written in SQL (the repository's bulk insert is tested below)
    states = [s.value for s in R]
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.execute("""
            INSERT INTO contacts (id, organization_id, whatsapp_id, created_at, updated_at)
            SELECT gen_random_uuid(), $1, '5521' || lpad(i::text, 9, '0'), $2, $2 FROM generate_series(0, $3 - 1) i
        """, org, T0, BIG)
        await connection.execute("""
            INSERT INTO automation_recipients (id, automation_id, organization_id, contact_id, whatsapp_id, seq,
                                               state, dispatched_at, updated_at)
            SELECT gen_random_uuid(), $1, $2, c.id, c.whatsapp_id, row_number() OVER (ORDER BY c.whatsapp_id) - 1,
                   ($3::text[])[1 + (row_number() OVER (ORDER BY c.whatsapp_id) - 1) % 8],
                   CASE WHEN (row_number() OVER (ORDER BY c.whatsapp_id) - 1) % 8 IN (0, 7) THEN NULL
                        ELSE $4::timestamptz END,
                   $4::timestamptz
            FROM contacts c WHERE c.organization_id = $2
        """, automation.id, org, states, T0)
        dispatched_pending = await connection.fetch(
            "UPDATE automation_recipients SET dispatched_at = $2 WHERE id IN (SELECT id FROM automation_recipients "
            "WHERE automation_id = $1 AND state = 'pending' ORDER BY seq LIMIT 100) RETURNING id", automation.id, T0)
        assert len(dispatched_pending) == 100
        # flow outcomes: 30 replied recipients whose flow completed, 20 sent ones whose flow failed,
        # 10 skipped ones with a failed execution (skipped wins), 5 replied with a still-running flow
        # and 15 delivered ones whose flow completed (flow mode: the flow ended before anyone replied)
        picks: list[tuple[str, ExecutionStatus, int]] = [("replied", ExecutionStatus.COMPLETED, 30),
                                                         ("delivered", ExecutionStatus.COMPLETED, 15),
                                                         ("sent", ExecutionStatus.FAILED, 20),
                                                         ("skipped", ExecutionStatus.FAILED, 10),
                                                         ("replied", ExecutionStatus.WAITING, 5)]
        for state, status, how_many in picks:
            rows = await connection.fetch(
                "SELECT id, contact_id FROM automation_recipients WHERE automation_id = $1 AND state = $2 "
                "AND execution_id IS NULL ORDER BY seq LIMIT $3", automation.id, state, how_many)
            for row in rows:
                person = Contact(id=row["contact_id"], organization_id=org, whatsapp_id="0", created_at=T0,
                                 updated_at=T0)
                execution_id = await add_execution(uow_factory, flow, number, person, status)
                await connection.execute("UPDATE automation_recipients SET execution_id = $2 WHERE id = $1",
                                         row["id"], execution_id)
    finally:
        await connection.close()

    per_state = BIG // 8
    expected = dict.fromkeys(states, per_state)
    expected["completed"] += 30 + 15
    expected["replied"] -= 30
    expected["delivered"] -= 15
    expected["failed"] += 20
    expected["sent"] -= 20
    dispatched = BIG - 2 * per_state + 100  # not pending-undispatched, not skipped; plus 100 dispatched pending
    async with uow_factory(org) as uow:
        counts = await uow.automations.counts(automation.id)
        page, total = await uow.automations.list_recipients(automation.id, state=R.COMPLETED, limit=5, offset=0)
        failed_page, failed_total = await uow.automations.list_recipients(automation.id, state=R.FAILED, limit=1,
                                                                          offset=0)
        pending = await uow.automations.next_pending(automation.id, 3)
    assert counts.total == BIG
    assert {s: getattr(counts, s) for s in states} == expected
    assert sum(getattr(counts, s) for s in states) == BIG
    assert counts.dispatched == dispatched
    assert [r.state for r in page] == [R.COMPLETED] * 5
    assert total == expected["completed"] if expected["completed"] <= 10_000 else (total.estimated and total > 10_000)
    assert expected["failed"] > 10_000 and failed_page[0].state is R.FAILED
    # a list total past LIST_COUNT_EXACT_LIMIT is the planner's estimate, flagged (counts() above stays exact)
    assert failed_total.estimated and failed_total >= 10_001
    assert [r.seq for r in pending] == [800 + 8 * n for n in range(3)]  # the first 100 pending were dispatched
    other_org, _ = await make_org(uow_factory)
    async with uow_factory(other_org) as uow:
        assert (await uow.automations.counts(automation.id)).total == 0


async def test_next_pending_skip_locked_gives_concurrent_transactions_disjoint_recipients(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _, _, people, automation = await setup(uow_factory, 30)
    rows = [recipient(automation, p, seq) for seq, p in enumerate(people)]
    rows[1].state = R.SKIPPED
    rows[2].dispatched_at = T0
    rows[3].state = R.SENT
    async with uow_factory(org) as uow:
        await uow.automations.add_recipients(rows)
        await uow.commit()
    async with uow_factory(org) as first, uow_factory(org) as second:
        a = await first.automations.next_pending(automation.id, 5)
        b = await second.automations.next_pending(automation.id, 5)
        assert [r.seq for r in a] == [0, 4, 5, 6, 7]
        assert [r.seq for r in b] == [8, 9, 10, 11, 12]
        assert {r.id for r in a}.isdisjoint({r.id for r in b})
        a[0].dispatched_at = T0
        await first.automations.update_recipient(a[0])
        await first.commit()  # releases 0, 4..7; seq 0 is now dispatched
        async with uow_factory(org) as third:
            c = await third.automations.next_pending(automation.id, 6)
        assert [r.seq for r in c] == [4, 5, 6, 7, 13, 14]  # second still holds 8..12
    async with uow_factory(org) as uow:
        everyone = await uow.automations.next_pending(automation.id, 100)
    assert len(everyone) == 30 - 4 and everyone[0].seq == 4


async def test_concurrent_next_pending_of_many_transactions_never_overlap(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    import asyncio

    org, _, _, people, automation = await setup(uow_factory, 40)
    async with uow_factory(org) as uow:
        await uow.automations.add_recipients([recipient(automation, p, seq) for seq, p in enumerate(people)])
        await uow.commit()
    gate = asyncio.Event()
    taken: list[int] = []

    async def take() -> None:
        async with uow_factory(org) as uow:
            got = await uow.automations.next_pending(automation.id, 4)
            taken.extend(r.seq for r in got)
            await gate.wait()  # hold the locks until everyone has taken its batch

    tasks = [asyncio.create_task(take()) for _ in range(4)]
    for _ in range(100):
        if len(taken) == 16:
            break
        await asyncio.sleep(0.02)
    gate.set()
    await asyncio.gather(*tasks)
    assert sorted(taken) == list(range(16)) and len(set(taken)) == 16


async def test_recipient_lookups_and_listing(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, number, people, automation = await setup(uow_factory, 6)
    message_id = uuid4()
    done = await add_execution(uow_factory, flow, number, people[2], ExecutionStatus.COMPLETED)
    rows = [recipient(automation, p, seq, variables={"n": seq}) for seq, p in enumerate(people)]
    rows[0].message_id, rows[0].dispatched_at = message_id, T0
    rows[1].state, rows[1].skip_reason = R.SKIPPED, "opted_out"
    rows[2].state, rows[2].execution_id = R.REPLIED, done
    rows[3].state, rows[3].error_code, rows[3].error_title = R.FAILED, 131047, "Re-engagement message"
    async with uow_factory(org) as uow:
        await uow.automations.add_recipients(rows)
        await uow.commit()
    async with uow_factory(org) as uow:
        by_message = await uow.automations.recipient_by_message(message_id)
        assert by_message == rows[0]
        assert await uow.automations.recipient_by_message(uuid4()) is None
        of_contact = await uow.automations.recipients_of_contact(people[0].id, [R.PENDING])
        assert [r.id for r in of_contact] == [rows[0].id]
        assert await uow.automations.recipients_of_contact(people[1].id, [R.PENDING]) == []
        shown, total = await uow.automations.list_recipients(automation.id, state=None, limit=3, offset=1)
        assert total == 6 and [(r.seq, r.state) for r in shown] == [(1, R.SKIPPED), (2, R.COMPLETED),
                                                                     (3, R.FAILED)]
        assert (shown[2].error_code, shown[2].error_title, shown[0].skip_reason) == (
            131047, "Re-engagement message", "opted_out")
        assert shown[1].variables == {"n": 2}
        completed, total = await uow.automations.list_recipients(automation.id, state=R.COMPLETED, limit=10,
                                                                 offset=0)
        assert ([r.seq for r in completed], total) == ([2], 1)
        replied, total = await uow.automations.list_recipients(automation.id, state=R.REPLIED, limit=10, offset=0)
        assert (replied, total) == ([], 0)
        counts = await uow.automations.counts(automation.id)
        assert Counter({k: getattr(counts, k) for k in ("pending", "skipped", "completed", "failed", "replied")}) \
            == Counter({"pending": 3, "skipped": 1, "completed": 1, "failed": 1})
        assert counts.dispatched == 1
    # a draft automation's recipients are not "live" for opt-outs and replies
    org2, _, _, people2, draft = await setup(uow_factory, 1, AutomationStatus.DRAFT)
    async with uow_factory(org2) as uow:
        await uow.automations.add_recipients([recipient(draft, people2[0], 0)])
        await uow.commit()
    async with uow_factory(org2) as uow:
        assert await uow.automations.recipients_of_contact(people2[0].id, [R.PENDING]) == []
    # another organization sees nothing
    async with uow_factory(org2) as uow:
        assert await uow.automations.get(automation.id) is None
        assert await uow.automations.recipient_by_message(message_id) is None
        assert await uow.automations.list_recipients(automation.id, state=None, limit=10, offset=0) == ([], 0)


async def test_automation_round_trip_list_and_unfinished_count(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, _, _, automation = await setup(uow_factory, 0)
    async with uow_factory(org) as uow:
        got = await uow.automations.get(automation.id, for_update=True)
        assert got == automation
        assert got is not None
        got.pause(T0 + timedelta(seconds=1), "token expired")
        await uow.automations.update(got)
        await uow.commit()
    async with uow_factory(org) as uow:
        stored = await uow.automations.get(automation.id)
        assert stored is not None and (stored.status, stored.paused_reason) == (AutomationStatus.PAUSED,
                                                                                "token expired")
        assert await uow.automations.count_unfinished_for_flow(flow.id) == 1
        listed, total = await uow.automations.list(limit=10, offset=0)
        assert [a.id for a in listed] == [automation.id] and total == 1


async def test_a_dispatcher_finishing_while_the_last_send_is_recorded_still_completes_the_automation(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    """The dispatcher's finishing transaction sees the last recipient still pending (its send's transaction has
    not committed); that transaction must then see the dispatcher's finish and complete the campaign."""
    import asyncio

    from application.messaging.statuses import StatusChange, StatusRecorder
    from application.use_cases.automations.tracking import AutomationTracker
    from application.use_cases.flows.runtime import FlowRuntime
    from domain.channel import Message
    from domain.messaging import MessageDirection, MessageStatus

    org, _, number, [person], automation = await setup(uow_factory, 1)
    opening = Message(id=uuid4(), organization_id=org, number_id=number.id, contact_id=person.id,
                      direction=MessageDirection.OUTBOUND, type="template", content={}, status="queued",
                      occurred_at=T0, created_at=T0, updated_at=T0)
    async with uow_factory(org) as uow:
        await uow.messages.add(opening)
        await uow.automations.add_recipients([recipient(automation, person, 0, message_id=opening.id,
                                                        dispatched_at=T0)])
        await uow.commit()
    recorder = StatusRecorder(automations=AutomationTracker(flows=FlowRuntime()))
    dispatcher_holds, recorded = asyncio.Event(), asyncio.Event()

    async def dispatcher() -> None:
        async with uow_factory(org) as uow:
            locked = await uow.automations.get(automation.id, for_update=True)
            assert locked is not None
            dispatcher_holds.set()
            await recorded.wait()  # the send's transaction has updated the recipient, not committed
            locked.finish_dispatching(T0)
            assert await uow.automations.pending_count(automation.id) == 1  # it cannot see that update
            await uow.automations.update(locked)
            await asyncio.sleep(0.2)
            await uow.commit()

    async def sender() -> None:
        await dispatcher_holds.wait()
        async with uow_factory(org) as uow:
            [message] = (await uow.messages.get_many([opening.id], for_update=True)).values()
            recorded.set()  # the recording continues; complete_if_done waits for the dispatcher's lock
            await recorder.record(uow, [StatusChange(message=message, status=MessageStatus.SENT, at=T0,
                                                     wamid="wamid.race")], T0)
            await uow.commit()

    await asyncio.wait_for(asyncio.gather(dispatcher(), sender()), 10)
    async with uow_factory(org) as uow:
        stored = await uow.automations.get(automation.id)
    assert stored is not None and stored.status is AutomationStatus.COMPLETED


async def test_a_send_recorded_while_a_dispatch_batch_runs_does_not_deadlock_with_it(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    """A dispatch batch locks its automation first and queues the automation's progress job last (one job per
    250 ms window, deduplicated); a send recorded meanwhile settles a recipient of the same automation and
    queues the same job. Both take the automation row before the job's key: the recording waits for the batch
    and neither is broken off by PostgreSQL's deadlock detector (the other order stalled campaigns a second or
    more each time, and failed the dispatch job)."""
    import asyncio

    from application.events import progress_changed
    from application.messaging.statuses import StatusChange, StatusRecorder
    from application.use_cases.automations.tracking import AutomationTracker
    from application.use_cases.flows.runtime import FlowRuntime
    from domain.channel import Message
    from domain.messaging import MessageDirection, MessageStatus

    org, _, number, people, automation = await setup(uow_factory, 2)
    opening = Message(id=uuid4(), organization_id=org, number_id=number.id, contact_id=people[0].id,
                      direction=MessageDirection.OUTBOUND, type="template", content={}, status="queued",
                      occurred_at=T0, created_at=T0, updated_at=T0)
    async with uow_factory(org) as uow:
        await uow.messages.add(opening)
        await uow.automations.add_recipients([recipient(automation, people[0], 0, message_id=opening.id,
                                                        dispatched_at=T0), recipient(automation, people[1], 1)])
        await uow.commit()
    recorder = StatusRecorder(automations=AutomationTracker(flows=FlowRuntime()))
    dispatcher_holds, recording = asyncio.Event(), asyncio.Event()

    async def dispatch_batch() -> None:
        async with uow_factory(org) as uow:
            assert await uow.automations.get(automation.id, for_update=True) is not None
            dispatcher_holds.set()
            await recording.wait()
            await asyncio.sleep(0.3)  # the recording is as far as it gets while this batch holds the row
            await progress_changed(uow, [(automation.id, org)], T0)
            await uow.commit()

    async def record_send() -> None:
        await dispatcher_holds.wait()
        async with uow_factory(org) as uow:
            [message] = (await uow.messages.get_many([opening.id], for_update=True)).values()
            recording.set()
            await recorder.record(uow, [StatusChange(message=message, status=MessageStatus.SENT, at=T0,
                                                     wamid="wamid.no-deadlock")], T0)
            await uow.commit()

    await asyncio.wait_for(asyncio.gather(dispatch_batch(), record_send()), 10)  # a deadlock raises here
    async with uow_factory(org) as uow:
        [settled] = (await uow.automations.recipients_by_messages([opening.id])).values()
    assert settled.state is RecipientState.SENT
