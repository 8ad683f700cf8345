"""Contact identity against PostgreSQL: lookups by number or BSUID, the merge (every table that points at a
contact, duplicates folded, nothing lost), canonical ids, account routing, and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from domain.channel import NumberStatus, WhatsAppNumber
from domain.contacts import Contact, ContactAlreadyExists
from tests.e2e.whatsapp_support import fetch, random_digits
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration

T = datetime(2026, 12, 1, tzinfo=UTC)


def person(org: UUID, whatsapp_id: str | None, bsuid: str | None = None, *, minutes: int = 0, **fields: object
           ) -> Contact:
    return Contact(id=uuid4(), organization_id=org, whatsapp_id=whatsapp_id, bsuid=bsuid,
                   created_at=T + timedelta(minutes=minutes), updated_at=T, **fields)  # type: ignore[arg-type]


async def _org_with_number(uow_factory: SqlAlchemyUnitOfWorkFactory, waba: str = "1") -> tuple[UUID, WhatsAppNumber]:
    org, _ = await make_org(uow_factory)
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id=random_digits(), waba_id=waba,
                            phone_number="+1 555-078-3881", display_name="Shop", status=NumberStatus.ACTIVE,
                            verified=True, access_token_secret_id=uuid4(), created_at=T, updated_at=T)
    async with uow_factory(org) as uow:
        await uow.numbers.add(number)
        await uow.commit()
    return org, number


async def test_contacts_found_by_number_or_bsuid_and_a_contact_without_phone(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    phone, username = person(org, random_digits(13, "5")), person(org, None, "US." + random_digits(12, "1"))
    async with uow_factory(org) as uow:
        await uow.contacts.add_new([phone, username, person(org, phone.whatsapp_id)])  # the duplicate is skipped
        await uow.commit()
    async with uow_factory(org) as uow:
        found = await uow.contacts.find_by_identities([phone.whatsapp_id or ""], [username.bsuid or ""])
        assert sorted(c.id for c in found) == sorted([phone.id, username.id])
        stored = await uow.contacts.get(username.id)
        assert stored is not None and (stored.whatsapp_id, stored.bsuid) == (None, username.bsuid)
        with pytest.raises(ContactAlreadyExists):
            await uow.contacts.add(person(org, None, username.bsuid))
        listed, _ = await uow.contacts.search(query=(username.bsuid or "").lower(), limit=5, offset=0)
        assert [c.id for c in listed] == [username.id]  # BSUIDs are searchable


async def test_a_contact_needs_a_number_or_a_bsuid(uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                   database_url: str) -> None:
    org, _ = await make_org(uow_factory)
    with pytest.raises(Exception, match="contacts_identity_present"):
        await fetch(database_url, "INSERT INTO contacts (id, organization_id, tags, attributes, opted_out, "
                                  "created_at, updated_at) VALUES ($1, $2, '{}', '{}', false, now(), now())",
                    uuid4(), org)


async def test_merge_moves_everything_and_folds_duplicates(uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                          database_url: str) -> None:
    org, number = await _org_with_number(uow_factory)
    target = person(org, random_digits(13, "5"), name="Ana", tags=["vip"])
    source = person(org, None, "US." + random_digits(12, "1"), minutes=5, email="a@example.com", tags=["Friend"],
                    attributes={"city": "SP"})
    async with uow_factory(org) as uow:
        await uow.contacts.add_new([target, source])
        await uow.commit()
    flow, automation, other_automation = uuid4(), uuid4(), uuid4()
    seed = [
        ("INSERT INTO conversations (id, organization_id, number_id, contact_id, last_inbound_at, last_message_at, "
         "created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $4, now(), now())",
         (org, number.id, target.id, T)),
        ("INSERT INTO conversations (id, organization_id, number_id, contact_id, last_inbound_at, last_message_at, "
         "handoff_at, created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $4, $4, now(), now())",
         (org, number.id, source.id, T + timedelta(hours=1))),
        ("INSERT INTO messages (id, organization_id, number_id, contact_id, direction, type, content, status, "
         "source, occurred_at, created_at, updated_at) SELECT gen_random_uuid(), $1, $2, c, 'inbound', 'text', "
         "'{}', 'received', 'whatsapp', now(), now(), now() FROM unnest($3::uuid[]) AS c",
         (org, number.id, [target.id, source.id, source.id])),
        ("INSERT INTO flows (id, organization_id, name, status, created_at, updated_at) "
         "VALUES ($1, $2, 'f', 'active', now(), now())", (flow, org)),
        ("INSERT INTO flow_executions (id, organization_id, flow_id, version, contact_id, number_id, status, "
         "trigger, started_at, updated_at, expires_at) SELECT gen_random_uuid(), $1, $2, 1, c, $3, s, 'keyword', "
         "now(), now(), now() + interval '1 day' FROM unnest($4::uuid[], $5::text[]) AS x(c, s)",
         (org, flow, number.id, [target.id, source.id, source.id], ["waiting", "running", "completed"])),
        ("INSERT INTO flow_automations (id, organization_id, flow_id, number_id, status, rate_per_second, "
         "created_at, updated_at) SELECT a, $1, $2, $3, 'running', 1, now(), now() FROM unnest($4::uuid[]) AS a",
         (org, flow, number.id, [automation, other_automation])),
        ("INSERT INTO automation_recipients (id, automation_id, organization_id, contact_id, whatsapp_id, seq, "
         "state, updated_at) SELECT gen_random_uuid(), a, $1, c, 'x', 0, 'pending', now() "
         "FROM unnest($2::uuid[], $3::uuid[]) AS x(a, c)",
         (org, [automation, automation, other_automation], [target.id, source.id, source.id])),
    ]
    for sql, args in seed:
        await fetch(database_url, sql, *args)
    now = T + timedelta(days=1)
    async with uow_factory(org) as uow:
        survivor = await uow.contacts.get(target.id)
        absorbed = await uow.contacts.get(source.id)
        assert survivor is not None and absorbed is not None
        survivor.absorb(absorbed, now)
        await uow.contacts.merge_into(source.id, survivor, now)
        await uow.commit()
    async with uow_factory(org) as uow:
        merged = await uow.contacts.get(target.id)
        assert await uow.contacts.get(source.id) is None
    assert merged is not None
    assert (merged.whatsapp_id, merged.bsuid, merged.name, merged.email, merged.tags, merged.attributes) == (
        target.whatsapp_id, source.bsuid, "Ana", "a@example.com", ["vip", "Friend"], {"city": "SP"})
    by_table = {table: await fetch(database_url, f"SELECT * FROM {table} WHERE organization_id = $1", org)
                for table in ("messages", "conversations", "flow_executions", "automation_recipients")}
    assert [r["contact_id"] for r in by_table["messages"]] == [target.id] * 3
    [conversation] = by_table["conversations"]
    assert (conversation["contact_id"], conversation["last_inbound_at"], conversation["handoff_at"]) == (
        target.id, T + timedelta(hours=1), T + timedelta(hours=1))
    executions = sorted((r["status"], r["fail_reason"]) for r in by_table["flow_executions"])
    assert executions == [("completed", None), ("failed", "contact_merged"), ("waiting", None)]
    assert {r["contact_id"] for r in by_table["flow_executions"]} == {target.id}
    assert sorted(r["automation_id"] for r in by_table["automation_recipients"]) == sorted(
        [automation, other_automation])
    assert {r["contact_id"] for r in by_table["automation_recipients"]} == {target.id}


async def test_merge_never_reaches_another_organization(uow_factory: SqlAlchemyUnitOfWorkFactory,
                                                        database_url: str) -> None:
    mine, _ = await make_org(uow_factory)
    theirs, _ = await make_org(uow_factory)
    target, foreign = person(mine, random_digits(13, "5")), person(theirs, random_digits(13, "5"))
    for org, contact in ((mine, target), (theirs, foreign)):
        async with uow_factory(org) as uow:
            await uow.contacts.add_new([contact])
            await uow.commit()
    async with uow_factory(mine) as uow:
        assert await uow.contacts.find_by_identities([foreign.whatsapp_id or ""], []) == []
        await uow.contacts.merge_into(foreign.id, target, T)  # another organization's id: nothing happens
        await uow.commit()
    assert len(await fetch(database_url, "SELECT 1 FROM contacts WHERE id = $1", foreign.id)) == 1


async def test_canonical_ids_are_adopted_unless_taken(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    local, other = random_digits(8, "9"), random_digits(8, "8")
    ana, taken, holder = (person(org, f"55319{local}"), person(org, f"55329{other}"), person(org, f"5532{other}"))
    async with uow_factory(org) as uow:
        await uow.contacts.add_new([ana, taken, holder])
        await uow.contacts.adopt_whatsapp_ids({ana.id: (f"55319{local}", f"5531{local}"),
                                               taken.id: (f"55329{other}", f"5532{other}")}, T)
        await uow.commit()
    async with uow_factory(org) as uow:
        assert (await uow.contacts.get(ana.id)).whatsapp_id == f"5531{local}"  # type: ignore[union-attr]
        assert (await uow.contacts.get(taken.id)).whatsapp_id == f"55329{other}"  # type: ignore[union-attr]


async def test_numbers_are_routed_by_waba_and_keep_their_account_status(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    waba = random_digits(15, "2")
    org, number = await _org_with_number(uow_factory, waba)
    async with uow_factory() as uow:
        routed = await uow.numbers.routable_by_waba_ids([waba, "nothing"])
    assert list(routed) == [waba] and [n.id for n in routed[waba]] == [number.id]
    async with uow_factory(org) as uow:
        stored = await uow.numbers.get(number.id)
        assert stored is not None
        stored.account_status, stored.account_status_at, stored.throughput_mps = "banned", T, 1000
        await uow.numbers.update(stored)
        await uow.commit()
    async with uow_factory(org) as uow:
        again = await uow.numbers.get(number.id)
    assert again is not None and (again.account_status, again.banned, again.throughput_mps) == ("banned", True, 1000)


async def test_bsuids_from_statuses_are_adopted_unless_taken(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    user, taken = "US." + random_digits(12, "1"), "US." + random_digits(12, "2")
    plain, holder, known = (person(org, random_digits(13, "5")), person(org, None, taken),
                            person(org, random_digits(13, "5"), "US.0" + random_digits(8, "3")))
    async with uow_factory(org) as uow:
        await uow.contacts.add_new([plain, holder, known])
        await uow.contacts.adopt_bsuids({plain.id: user, known.id: taken}, T)
        await uow.commit()
    async with uow_factory(org) as uow:
        assert (await uow.contacts.get(plain.id)).bsuid == user  # type: ignore[union-attr]
        assert (await uow.contacts.get(known.id)).bsuid == known.bsuid  # type: ignore[union-attr]
