"""Contact imports on PostgreSQL: the set-based bulk write (created / updated / unchanged, modes, tenancy, a
concurrent insert), the import store, keyset pages with tag and query filters, and a whole import run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.clock import SystemClock
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.uow import TransactionConflict
from application.use_cases.contacts.run_contact_import import RunContactImport
from domain.contact_imports import BatchCounts, ContactImport, ContactRow, ImportMode, ImportStatus, RowError
from domain.contacts import Contact
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration

UPSERT, CREATE_ONLY = ImportMode.UPSERT, ImportMode.CREATE_ONLY


async def _import(uow_factory: SqlAlchemyUnitOfWorkFactory, org: UUID, rows: list[ContactRow], mode: ImportMode,
                  now: datetime | None = None) -> BatchCounts:
    async with uow_factory(org) as uow:
        counts = await uow.contacts.import_rows(rows, mode=mode, now=now or datetime.now(UTC))
        await uow.commit()
    return counts


async def _contacts(uow_factory: SqlAlchemyUnitOfWorkFactory, org: UUID) -> dict[str, Contact]:
    async with uow_factory(org) as uow:
        found = await uow.contacts.page(query=None, tag=None, before=None, limit=10_000)
    return {c.whatsapp_id: c for c in found}


async def test_bulk_write_classifies_created_updated_and_unchanged(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    t0 = datetime.now(UTC) - timedelta(hours=1)
    first = [ContactRow(whatsapp_id="5511920000001", name="Ana", email="ana@example.com", tags=["vip"],
                        attributes={"plan": "gold"}),
             ContactRow(whatsapp_id="5511920000002", name="Bia"),
             ContactRow(whatsapp_id="5511920000003")]
    assert await _import(uow_factory, org, first, UPSERT, t0) == BatchCounts(created=3)
    stored = await _contacts(uow_factory, org)
    assert (stored["5511920000003"].tags, stored["5511920000003"].attributes, stored["5511920000003"].opted_out) == (
        [], {}, False)

    second = [ContactRow(whatsapp_id="5511920000001", name="Ana", tags=["vip"]),  # empty email and no attributes
              ContactRow(whatsapp_id="5511920000002", name="Bia Souza", tags=["a", "b"],
                         attributes={"city": "Natal"}),
              ContactRow(whatsapp_id="5511920000003", attributes={}),  # an empty merge changes nothing
              ContactRow(whatsapp_id="5511920000004", name="New")]
    assert await _import(uow_factory, org, second, UPSERT) == BatchCounts(created=1, updated=1, unchanged=2)
    stored = await _contacts(uow_factory, org)
    ana, bia = stored["5511920000001"], stored["5511920000002"]
    assert (ana.email, ana.attributes, ana.updated_at) == ("ana@example.com", {"plan": "gold"}, t0)  # untouched
    assert (bia.name, bia.tags, bia.attributes) == ("Bia Souza", ["a", "b"], {"city": "Natal"})
    assert bia.updated_at > t0

    merged = [ContactRow(whatsapp_id="5511920000001", attributes={"city": "Recife"})]
    assert await _import(uow_factory, org, merged, UPSERT) == BatchCounts(updated=1)
    assert (await _contacts(uow_factory, org))["5511920000001"].attributes == {"plan": "gold", "city": "Recife"}
    assert await _import(uow_factory, org, merged, UPSERT) == BatchCounts(unchanged=1)


async def test_create_only_never_changes_an_existing_contact(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    await _import(uow_factory, org, [ContactRow(whatsapp_id="5511920000010", name="Kept")], CREATE_ONLY)
    counts = await _import(uow_factory, org, [ContactRow(whatsapp_id="5511920000010", name="Other"),
                                              ContactRow(whatsapp_id="5511920000011", name="Added")], CREATE_ONLY)
    assert counts == BatchCounts(created=1, unchanged=1)
    stored = await _contacts(uow_factory, org)
    assert (stored["5511920000010"].name, stored["5511920000011"].name) == ("Kept", "Added")


async def test_the_bulk_write_stays_in_its_organization(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org_a, _ = await make_org(uow_factory)
    org_b, _ = await make_org(uow_factory)
    await _import(uow_factory, org_b, [ContactRow(whatsapp_id="5511920000020", name="B's")], UPSERT)
    counts = await _import(uow_factory, org_a, [ContactRow(whatsapp_id="5511920000020", name="A's")], UPSERT)
    assert counts == BatchCounts(created=1)  # the same number in another organization is another contact
    assert (await _contacts(uow_factory, org_b))["5511920000020"].name == "B's"
    assert (await _contacts(uow_factory, org_a))["5511920000020"].name == "A's"


async def test_a_number_another_transaction_created_meanwhile_fails_the_batch(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    now = datetime.now(UTC)
    async with uow_factory(org) as other:
        await other.contacts.add(Contact(id=uuid4(), organization_id=org, whatsapp_id="5511920000031",
                                         created_at=now, updated_at=now))  # not committed yet

        async def batch() -> BatchCounts:
            return await _import(uow_factory, org, [ContactRow(whatsapp_id="5511920000030"),
                                                    ContactRow(whatsapp_id="5511920000031", name="Mine")], UPSERT)

        running = asyncio.create_task(batch())
        await asyncio.sleep(0.5)  # the batch's INSERT now waits on the uncommitted row
        await other.commit()
        with pytest.raises(TransactionConflict):
            await running
    stored = await _contacts(uow_factory, org)
    assert set(stored) == {"5511920000031"} and stored["5511920000031"].name is None  # the batch left nothing
    assert await _import(uow_factory, org, [ContactRow(whatsapp_id="5511920000030"),
                                            ContactRow(whatsapp_id="5511920000031", name="Mine")], UPSERT) == \
        BatchCounts(created=1, updated=1)  # tried again, it goes through


async def test_pages_filter_by_tag_case_insensitively_and_by_query(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    other, _ = await make_org(uow_factory)
    base = datetime.now(UTC) - timedelta(days=1)
    for n in range(7):
        await _import(uow_factory, org, [ContactRow(whatsapp_id=f"55119300000{n:02d}", name=f"Person {n}",
                                                    tags=["VIP", "x"] if n % 2 else ["lead"])], UPSERT,
                      base + timedelta(seconds=n))
    await _import(uow_factory, other, [ContactRow(whatsapp_id="5511930000099", tags=["vip"])], UPSERT)
    seen: list[str] = []
    before = None
    async with uow_factory(org) as uow:
        while True:
            page = await uow.contacts.page(query=None, tag="vip", before=before, limit=2)
            seen += [c.whatsapp_id for c in page]
            if len(page) < 2:
                break
            before = (page[-1].created_at, page[-1].id)
        assert seen == ["5511930000005", "5511930000003", "5511930000001"]
        assert [c.whatsapp_id for c in await uow.contacts.page(query="person 4", tag=None, before=None, limit=10)] \
            == ["5511930000004"]
        assert await uow.contacts.page(query="person", tag="nobody", before=None, limit=10) == []


def _new_import(org: UUID, user: UUID) -> ContactImport:
    now = datetime.now(UTC)
    return ContactImport(id=uuid4(), organization_id=org, created_by=user, filename="list.csv", size_bytes=10,
                         mode=UPSERT, delimiter=";", mapping={"Phone": "whatsapp_id"}, created_at=now,
                         updated_at=now)


async def test_the_import_store_round_trips_and_is_scoped(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow_factory)
    other, _ = await make_org(uow_factory)
    stored = _new_import(org, user.id)
    async with uow_factory(org) as uow:
        await uow.contact_imports.add(stored, b"Phone\n5511940000001\n")
        await uow.commit()
    stored.start(1, datetime.now(UTC))
    stored.record_batch(rows=1, counts=BatchCounts(created=1), duplicates=0, now=datetime.now(UTC),
                        errors=[RowError(line=2, column="Phone", error_code="invalid_whatsapp_id", reason="bad")])
    async with uow_factory(org) as uow:
        await uow.contact_imports.update(stored)
        await uow.commit()
    async with uow_factory(org) as uow:
        found = await uow.contact_imports.get(stored.id, for_update=True)
        assert found == stored
        assert await uow.contact_imports.content(stored.id) == b"Phone\n5511940000001\n"
        assert await uow.contact_imports.list(limit=5, offset=0) == ([stored], 1)
        await uow.contact_imports.drop_content(stored.id)
        await uow.commit()
    async with uow_factory(other) as uow:
        assert await uow.contact_imports.get(stored.id) is None
        assert await uow.contact_imports.content(stored.id) is None
        assert await uow.contact_imports.list(limit=5, offset=0) == ([], 0)
    async with uow_factory(org) as uow:
        assert await uow.contact_imports.content(stored.id) is None


async def test_a_whole_import_runs_on_postgresql(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, user = await make_org(uow_factory)
    lines = ["Phone;Name;Tags"] + [f"+55 11 9500-{n:04d};Name {n};vip|lead" for n in range(23)] + \
        ["55 11 9500 0001;Duplicate;", "123;Bad;"]
    queued = _new_import(org, user.id)
    queued.mapping = {"Phone": "whatsapp_id", "Name": "name", "Tags": "tags"}
    async with uow_factory(org) as uow:
        await uow.contact_imports.add(queued, "\n".join(lines).encode())
        await uow.commit()
    await RunContactImport(uow=uow_factory, clock=SystemClock(), batch_rows=10).execute(org, queued.id)
    async with uow_factory(org) as uow:
        done = await uow.contact_imports.get(queued.id)
        assert done is not None and await uow.contact_imports.content(queued.id) is None
    assert (done.status, done.rows_total, done.rows_processed, done.created, done.duplicates, done.failed) == (
        ImportStatus.COMPLETED, 25, 25, 23, 1, 1)
    assert [(e.line, e.error_code) for e in done.errors] == [(26, "invalid_whatsapp_id")]
    stored = await _contacts(uow_factory, org)
    assert len(stored) == 23 and stored["551195000001"].tags == ["vip", "lead"]
