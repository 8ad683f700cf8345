"""Flow and execution repositories on PostgreSQL: versions, the one-running index, stats SQL, expiry, RLS."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.channel import NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.flows import ExecutionState, ExecutionStatus
from domain.flows.records import ExecutionAlreadyRunning, Flow, FlowExecution, FlowStatus, FlowTrigger, FlowVersion
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _setup(uow_factory: SqlAlchemyUnitOfWorkFactory) -> tuple[UUID, Flow, WhatsAppNumber, list[Contact]]:
    org, _ = await make_org(uow_factory)
    flow = Flow(id=uuid4(), organization_id=org, name="F", status=FlowStatus.ACTIVE, published_version=1,
                nodes=[{"id": "start", "type": "start"}], edges=[], trigger=FlowTrigger.parse({"type": "default"}),
                created_at=T0, updated_at=T0)
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id=str(random.randint(10**12, 10**13)),
                            waba_id=None, phone_number="1555", display_name="N", status=NumberStatus.ACTIVE,
                            verified=True, access_token_secret_id=uuid4(), created_at=T0, updated_at=T0)
    contacts = [Contact(id=uuid4(), organization_id=org, whatsapp_id=f"55119{random.randint(10**7, 10**8 - 1)}",
                        created_at=T0, updated_at=T0) for _ in range(3)]
    async with uow_factory(org) as uow:
        await uow.flows.add(flow)
        await uow.flows.add_version(FlowVersion(flow_id=flow.id, organization_id=org, version=1, nodes=flow.nodes,
                                                edges=[], trigger=flow.trigger, created_at=T0))
        await uow.numbers.add(number)
        for contact in contacts:
            await uow.contacts.add(contact)
        await uow.commit()
    return org, flow, number, contacts


def _execution(flow: Flow, number: WhatsAppNumber, contact: Contact, state: ExecutionState,
               started: datetime = T0) -> FlowExecution:
    return FlowExecution(id=uuid4(), organization_id=flow.organization_id, flow_id=flow.id, version=1,
                         contact_id=contact.id, number_id=number.id, state=state, trigger="default",
                         started_at=started, updated_at=started, expires_at=started + timedelta(hours=72))


def _ended(status: ExecutionStatus, path: tuple[str, ...], seconds: float, node: str) -> ExecutionState:
    return ExecutionState(status=status, path=path, current_node_id=node, started_at=T0,
                          finished_at=T0 + timedelta(seconds=seconds))


async def test_flow_round_trip_versions_and_triggers(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, _, _ = await _setup(uow_factory)
    async with uow_factory(org) as uow:
        got = await uow.flows.get(flow.id)
        assert got == flow
        version = await uow.flows.get_version(flow.id, 1)
        assert version is not None and version.trigger == flow.trigger and version.nodes == flow.nodes
        assert [f.id for f in await uow.flows.with_triggers()] == [flow.id]
        flow.status = FlowStatus.ARCHIVED
        await uow.flows.update(flow)
        assert await uow.flows.with_triggers() == []
        listed, total = await uow.flows.list(limit=10, offset=0)
        assert total == 1 and listed[0].status is FlowStatus.ARCHIVED
    other, _ = await make_org(uow_factory)
    async with uow_factory(other) as uow:
        assert await uow.flows.get(flow.id) is None and await uow.flows.get_version(flow.id, 1) is None


async def test_one_running_execution_per_contact_and_number(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, number, contacts = await _setup(uow_factory)
    first = _execution(flow, number, contacts[0], ExecutionState(status=ExecutionStatus.WAITING))
    async with uow_factory(org) as uow:
        await uow.flow_executions.add(first)
        with pytest.raises(ExecutionAlreadyRunning):
            await uow.flow_executions.add(_execution(flow, number, contacts[0], ExecutionState()))
        await uow.flow_executions.add(_execution(flow, number, contacts[1], ExecutionState()))  # still usable
        await uow.commit()
    async with uow_factory(org) as uow:
        running = await uow.flow_executions.running_for(number.id, contacts[0].id)
        assert running is not None and running.id == first.id and running.state == first.state
        running.state = replace(running.state, status=ExecutionStatus.COMPLETED, finished_at=T0)
        await uow.flow_executions.update(running)
        await uow.flow_executions.add(_execution(flow, number, contacts[0], ExecutionState()))  # now allowed
        assert await uow.flow_executions.count_running_for_flow(flow.id) == 2
        await uow.commit()


async def test_stats_are_aggregated_in_sql(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, number, contacts = await _setup(uow_factory)
    states = [_ended(ExecutionStatus.COMPLETED, ("start", "ask", "end"), 2.0, "end"),
              _ended(ExecutionStatus.COMPLETED, ("start", "ask", "ask", "end"), 4.0, "end"),
              _ended(ExecutionStatus.FAILED, ("start", "ask"), 1.0, "ask"),
              ExecutionState(status=ExecutionStatus.WAITING, path=("start", "ask"), current_node_id="ask",
                             started_at=T0)]
    async with uow_factory(org) as uow:
        for index, state in enumerate(states):
            execution = _execution(flow, number, contacts[index % 3], state)
            execution.contact_id = (await _new_contact(uow, org)).id if index else execution.contact_id
            await uow.flow_executions.add(execution)
        await uow.commit()
    async with uow_factory(org) as uow:
        stats = await uow.flow_executions.stats(flow.id)
        executions, total = await uow.flow_executions.list_for_flow(flow.id, limit=2, offset=0)
    assert (stats.total, stats.completed, stats.finished) == (4, 2, 3)
    assert stats.success_rate == pytest.approx(2 / 3) and stats.avg_duration_ms == pytest.approx(3000.0)
    by_node = {n.node_id: (n.reached, n.waiting, n.dropped) for n in stats.nodes}
    assert by_node == {"start": (4, 0, 0), "ask": (4, 1, 1), "end": (2, 0, 0)}
    assert total == 4 and len(executions) == 2


async def _new_contact(uow, org: UUID) -> Contact:  # type: ignore[no-untyped-def]
    contact = Contact(id=uuid4(), organization_id=org, whatsapp_id=f"55118{random.randint(10**7, 10**8 - 1)}",
                      created_at=T0, updated_at=T0)
    await uow.contacts.add(contact)
    return contact


async def test_expire_overdue_runs_in_system_scope(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, flow, number, contacts = await _setup(uow_factory)
    overdue = _execution(flow, number, contacts[0], ExecutionState(status=ExecutionStatus.WAITING),
                         started=T0 - timedelta(days=10))
    fresh = _execution(flow, number, contacts[1], ExecutionState(status=ExecutionStatus.WAITING),
                       started=datetime.now(UTC))
    async with uow_factory(org) as uow:
        await uow.flow_executions.add(overdue)
        await uow.flow_executions.add(fresh)
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.flow_executions.expire_overdue(datetime.now(UTC), 1000)
        mine = [e for e in found if e.id in (overdue.id, fresh.id)]
        assert [e.id for e in mine] == [overdue.id]
        mine[0].state = replace(mine[0].state, status=ExecutionStatus.EXPIRED, finished_at=T0)
        await uow.flow_executions.update(mine[0])
        await uow.commit()
    async with uow_factory(org) as uow:
        stored = await uow.flow_executions.get(overdue.id)
        assert stored is not None and stored.status is ExecutionStatus.EXPIRED
