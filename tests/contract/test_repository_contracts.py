"""The same cases against each fake repository and its PostgreSQL adapter (see conftest.py): round trips,
duplicates, ordering, case rules, pagination totals, tenancy and rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from application.ports.uow import UnitOfWorkFactory
from domain.channel import Message, NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from domain.contacts import Contact, ContactAlreadyExists
from domain.flows.records import Flow, FlowStatus, FlowTrigger
from domain.identity import EmailAlreadyRegistered, Role, User
from domain.messaging import MessageDirection
from domain.vault import Secret, SecretAlreadyExists, SecretEnvironment, SecretKey, SecretService
from tests.contract.conftest import Stores
from tests.fakes_channel import number

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
WHATSAPP = SecretService("whatsapp")


def _number() -> str:
    return f"5511{uuid4().int % 10**9:09d}"


def _contact(org: UUID, *, whatsapp_id: str | None = None, name: str | None = None, email: str | None = None,
             tags: list[str] | None = None, at: datetime = T0) -> Contact:
    return Contact(id=uuid4(), organization_id=org, whatsapp_id=whatsapp_id or _number(), name=name, email=email,
                   tags=tags or [], attributes={"plan": "gold", "seats": 3}, created_at=at, updated_at=at)


# --------------------------------------------------------------------------- contacts


async def test_contact_round_trip_and_lookup_by_number(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    contact = _contact(org, name="Ana Souza", email="ana@example.com", tags=["vip", "Lead"])
    async with factory(org) as uow:
        await uow.contacts.add(contact)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.contacts.get(contact.id) == contact
        assert await uow.contacts.get_by_whatsapp_id(contact.whatsapp_id) == contact
        assert await uow.contacts.get(uuid4()) is None
        assert await uow.contacts.get_many([contact.id, uuid4()]) == {contact.id: contact}
        assert await uow.contacts.get_many_by_whatsapp_ids([contact.whatsapp_id, "999"]) == {
            contact.whatsapp_id: contact}


async def test_a_number_is_unique_per_organization_only(stores: Stores) -> None:
    factory = stores.factory()
    org, other = await stores.organization(factory), await stores.organization(factory)
    first = _contact(org)
    async with factory(org) as uow:
        await uow.contacts.add(first)
        await uow.commit()
    with pytest.raises(ContactAlreadyExists):
        async with factory(org) as uow:
            await uow.contacts.add(_contact(org, whatsapp_id=first.whatsapp_id))
            await uow.commit()
    async with factory(other) as uow:
        await uow.contacts.add(_contact(other, whatsapp_id=first.whatsapp_id))
        await uow.commit()
    second = _contact(org)
    async with factory(org) as uow:
        await uow.contacts.add(second)
        await uow.commit()
    second.whatsapp_id = first.whatsapp_id
    with pytest.raises(ContactAlreadyExists):
        async with factory(org) as uow:
            await uow.contacts.update(second)
            await uow.commit()


async def test_another_organization_sees_nothing(stores: Stores) -> None:
    factory = stores.factory()
    org, other = await stores.organization(factory), await stores.organization(factory)
    contact = _contact(org, name="Hidden")
    async with factory(org) as uow:
        await uow.contacts.add(contact)
        await uow.commit()
    async with factory(other) as uow:
        assert await uow.contacts.get(contact.id) is None
        assert await uow.contacts.get_by_whatsapp_id(contact.whatsapp_id) is None
        assert await uow.contacts.search(query="Hidden", limit=10, offset=0) == ([], 0)
        assert not await uow.contacts.delete(contact.id)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.contacts.get(contact.id) == contact


async def test_search_is_a_case_insensitive_substring_newest_first_with_the_total(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    made = [_contact(org, name=f"Maria {i}", at=T0 + timedelta(minutes=i)) for i in range(5)]
    made.append(_contact(org, name="Joao", email="MARIA.admin@example.com", at=T0 + timedelta(minutes=10)))
    made.append(_contact(org, name="Pedro", at=T0 + timedelta(minutes=11)))
    async with factory(org) as uow:
        for contact in made:
            await uow.contacts.add(contact)
        await uow.commit()
    async with factory(org) as uow:
        found, total = await uow.contacts.search(query="maRIA", limit=3, offset=0)
        assert total == 6
        assert [c.name for c in found] == ["Joao", "Maria 4", "Maria 3"]
        rest, again = await uow.contacts.search(query="maria", limit=10, offset=3)
        assert again == 6 and [c.name for c in rest] == ["Maria 2", "Maria 1", "Maria 0"]
        by_number, _ = await uow.contacts.search(query=made[-1].whatsapp_id[4:], limit=10, offset=0)
        assert [c.id for c in by_number] == [made[-1].id]
        everyone, count = await uow.contacts.search(query=None, limit=100, offset=0)
        assert count == 7 and [c.id for c in everyone] == [c.id for c in reversed(made)]


async def test_keyset_pages_by_tag_ignore_case_and_never_repeat(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    tagged = [_contact(org, tags=["VIP"] if i % 2 else ["vip", "x"], at=T0 + timedelta(seconds=i // 2))
              for i in range(7)]
    async with factory(org) as uow:
        for contact in [*tagged, _contact(org, tags=["other"])]:
            await uow.contacts.add(contact)
        await uow.commit()
    seen: list[UUID] = []
    before: tuple[datetime, UUID] | None = None
    async with factory(org) as uow:
        while page := await uow.contacts.page(query=None, tag="Vip", before=before, limit=3):
            seen += [c.id for c in page]
            before = (page[-1].created_at, page[-1].id)
    expected = sorted(tagged, key=lambda c: (c.created_at, c.id), reverse=True)
    assert seen == [c.id for c in expected]


async def test_get_or_add_many_keeps_the_stored_row_and_adds_the_missing(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    known = _contact(org, name="Known")
    async with factory(org) as uow:
        await uow.contacts.add(known)
        await uow.commit()
    newcomer = _contact(org)
    async with factory(org) as uow:
        got = await uow.contacts.get_or_add_many([_contact(org, whatsapp_id=known.whatsapp_id), newcomer])
        await uow.contacts.fill_missing_names({known.id: "Ignored", newcomer.id: "Profile"}, T0)
        await uow.commit()
    assert got[known.whatsapp_id].id == known.id and got[newcomer.whatsapp_id].id == newcomer.id
    async with factory(org) as uow:
        assert (await uow.contacts.get(known.id)).name == "Known"  # type: ignore[union-attr]
        assert (await uow.contacts.get(newcomer.id)).name == "Profile"  # type: ignore[union-attr]


async def test_what_is_not_committed_is_not_kept(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    contact = _contact(org)
    async with factory(org) as uow:
        await uow.contacts.add(contact)
    async with factory(org) as uow:
        assert await uow.contacts.get(contact.id) is None
        await uow.contacts.add(contact)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.contacts.delete(contact.id)
        assert not await uow.contacts.delete(contact.id)
    async with factory(org) as uow:
        assert await uow.contacts.get(contact.id) == contact


# --------------------------------------------------------------------------- users


def _user(org: UUID, email: str, at: datetime = T0) -> User:
    return User(id=uuid4(), organization_id=org, email=email, name="U", role=Role.AGENT, is_active=True,
                password_hash="argon2-hash", created_at=at, updated_at=at)


async def test_an_email_is_unique_across_organizations_ignoring_case(stores: Stores) -> None:
    factory = stores.factory()
    org, other = await stores.organization(factory), await stores.organization(factory)
    email = f"agent-{uuid4().hex[:8]}@example.com"
    user = _user(org, email)
    async with factory(org) as uow:
        await uow.users.add(user)
        await uow.commit()
    with pytest.raises(EmailAlreadyRegistered):
        async with factory(other) as uow:
            await uow.users.add(_user(other, email.upper()))
            await uow.commit()
    async with factory(None) as uow:
        assert await uow.users.get_by_email_any_org(email.upper()) == user
        assert await uow.users.get_any_org(user.id) == user
    async with factory(other) as uow:
        assert await uow.users.get(user.id) is None
        assert await uow.users.list(limit=10, offset=0) == ([], 0)


async def test_users_list_newest_first_with_the_total(stores: Stores) -> None:
    factory = stores.factory()
    org = await stores.organization(factory)
    users = [_user(org, f"u{i}-{uuid4().hex[:6]}@example.com", T0 + timedelta(hours=i)) for i in range(4)]
    async with factory(org) as uow:
        for user in users:
            await uow.users.add(user)
        await uow.commit()
    async with factory(org) as uow:
        page, total = await uow.users.list(limit=2, offset=1)
        assert total == 4 and [u.id for u in page] == [users[2].id, users[1].id]
        changed = users[0].with_changes(role=Role.VIEWER, is_active=False, name="Renamed")
        await uow.users.update(changed)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.users.get(users[0].id) == changed


# --------------------------------------------------------------------------- flows


def _flow(org: UUID, name: str, at: datetime, *, trigger: bool = False,
          status: FlowStatus = FlowStatus.ACTIVE) -> Flow:
    return Flow(id=uuid4(), organization_id=org, name=name, status=status, published_version=1,
                nodes=[{"id": "start", "type": "start"}], edges=[],
                trigger=FlowTrigger.parse({"type": "default"}) if trigger else None, created_at=at, updated_at=at)


async def test_flows_round_trip_list_triggers_and_delete(stores: Stores) -> None:
    factory = stores.factory()
    org, other = await stores.organization(factory), await stores.organization(factory)
    flows = [_flow(org, "a", T0, trigger=True), _flow(org, "b", T0 + timedelta(1)),
             _flow(org, "c", T0 + timedelta(2), trigger=True, status=FlowStatus.DRAFT),
             _flow(org, "d", T0 + timedelta(3), trigger=True)]
    async with factory(org) as uow:
        for flow in flows:
            await uow.flows.add(flow)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.flows.get(flows[1].id) == flows[1]
        page, total = await uow.flows.list(limit=2, offset=0)
        assert total == 4 and [f.name for f in page] == ["d", "c"]
        assert [f.name for f in await uow.flows.with_triggers()] == ["a", "d"]
        assert await uow.flows.delete(flows[0].id)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.flows.get(flows[0].id) is None
        assert (await uow.flows.list(limit=10, offset=0))[1] == 3
    async with factory(other) as uow:
        assert await uow.flows.get(flows[1].id) is None
        assert await uow.flows.list(limit=10, offset=0) == ([], 0)
        assert await uow.flows.with_triggers() == []
        assert not await uow.flows.delete(flows[1].id)


# --------------------------------------------------------------------------- vault


def _secret(org: UUID, key: str, *, environment: SecretEnvironment = SecretEnvironment.PRODUCTION,
            service: SecretService | None = None) -> Secret:
    return Secret.create(id=uuid4(), organization_id=org, key=SecretKey(key), now=T0, environment=environment,
                         service=service)


async def test_secrets_are_unique_by_key_environment_and_service(stores: Stores) -> None:
    factory = stores.factory()
    org, other = await stores.organization(factory), await stores.organization(factory)
    token = _secret(org, "WA_TOKEN", service=WHATSAPP)
    async with factory(org) as uow:
        await uow.secrets.add(token)
        await uow.secrets.add(_secret(org, "WA_TOKEN", environment=SecretEnvironment.STAGING,
                                      service=WHATSAPP))
        await uow.secrets.add(_secret(org, "WA_TOKEN"))
        await uow.commit()
    with pytest.raises(SecretAlreadyExists):
        async with factory(org) as uow:
            await uow.secrets.add(_secret(org, "WA_TOKEN", service=WHATSAPP))
            await uow.commit()
    async with factory(org) as uow:
        assert await uow.secrets.get(token.id) == token
        assert await uow.secrets.get_by_key(SecretKey("WA_TOKEN"), SecretEnvironment.PRODUCTION,
                                            WHATSAPP) == token
        assert await uow.secrets.get_by_key(SecretKey("WA_TOKEN"), SecretEnvironment.DEVELOPMENT, None) is None
        assert len(await uow.secrets.with_key(SecretKey("WA_TOKEN"))) == 3
        found, total = await uow.secrets.search(environment=SecretEnvironment.PRODUCTION, service=None, limit=10,
                                                offset=0)
        assert total == 2 and {s.service for s in found} == {None, WHATSAPP}
    async with factory(other) as uow:
        await uow.secrets.add(_secret(other, "WA_TOKEN", service=WHATSAPP))  # another org may
        assert await uow.secrets.get(token.id) is None
        assert len(await uow.secrets.with_key(SecretKey("WA_TOKEN"))) == 1
        await uow.commit()


# --------------------------------------------------------------------------- numbers, conversations, messages


def _phone_number_id() -> str:
    return str(10**14 + uuid4().int % 10**14)


async def _channel(stores: Stores) -> tuple[UnitOfWorkFactory, UUID, WhatsAppNumber, Contact]:
    factory = stores.factory()
    org = await stores.organization(factory)
    num, person = number(org, phone_number_id=_phone_number_id()), _contact(org)
    async with factory(org) as uow:
        await uow.numbers.add(num)
        await uow.contacts.add(person)
        await uow.commit()
    return factory, org, num, person


async def test_a_proven_number_belongs_to_one_organization(stores: Stores) -> None:
    factory, org, num, _ = await _channel(stores)
    other = await stores.organization(factory)
    with pytest.raises(WhatsAppNumberAlreadyRegistered):
        async with factory(org) as uow:
            await uow.numbers.add(number(org, phone_number_id=num.phone_number_id))
            await uow.commit()
    with pytest.raises(WhatsAppNumberAlreadyRegistered):
        async with factory(other) as uow:
            await uow.numbers.add(number(other, phone_number_id=num.phone_number_id))
            await uow.commit()
    pending = number(other, phone_number_id=num.phone_number_id, status=NumberStatus.PENDING)
    async with factory(other) as uow:
        await uow.numbers.add(pending)  # an unproven registration elsewhere is allowed
        assert await uow.numbers.get(num.id) is None
        assert await uow.numbers.list(limit=10, offset=0) == ([pending], 1)
        await uow.commit()
    async with factory(None) as uow:
        assert await uow.numbers.get_by_phone_number_id_any_org(num.phone_number_id) == num
        assert await uow.numbers.routable_by_phone_number_ids([num.phone_number_id, "1"]) == {
            num.phone_number_id: num}
    async with factory(org) as uow:
        assert await uow.numbers.default_active() == num


async def test_inbound_moves_the_conversation_forward_only_and_counts_unread(stores: Stores) -> None:
    factory, org, num, person = await _channel(stores)
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    async with factory(org) as uow:
        assert await uow.conversations.get(num.id, person.id) is None
        got = await uow.conversations.record_inbound_many([(num.id, person.id, later, 2)], T0)
        assert got[(num.id, person.id)].last_inbound_at == later
        await uow.commit()
    async with factory(org) as uow:
        again = await uow.conversations.record_inbound_many([(num.id, person.id, earlier, 1)], T0)
        assert again[(num.id, person.id)].last_inbound_at == later
        assert again[(num.id, person.id)].unread_count == 3
        await uow.commit()
    async with factory(org) as uow:
        stored = await uow.conversations.get(num.id, person.id)
        assert stored is not None and stored.last_inbound_at == later
        assert await uow.conversations.open_windows(num.id, [person.id, uuid4()], later + timedelta(hours=23)) == {
            person.id}
        assert await uow.conversations.open_windows(num.id, [person.id], later + timedelta(hours=25)) == set()


async def test_inbound_messages_are_deduplicated_by_wamid(stores: Stores) -> None:
    factory, org, num, person = await _channel(stores)

    def inbound(wamid: str, minute: int) -> Message:
        at = T0 + timedelta(minutes=minute)
        return Message(id=uuid4(), organization_id=org, number_id=num.id, contact_id=person.id,
                       direction=MessageDirection.INBOUND, type="text", content={"text": f"hi {minute}"},
                       status="received", wamid=wamid, source="webhook", occurred_at=at, created_at=at,
                       updated_at=at)

    wamid = f"wamid.{uuid4().hex}"
    first, duplicate, other = inbound(wamid, 1), inbound(wamid, 2), inbound(f"wamid.{uuid4().hex}", 3)
    async with factory(org) as uow:
        assert await uow.messages.add_inbound_many([first, other]) == {first.id, other.id}
        assert await uow.messages.add_inbound_many([duplicate]) == set()
        assert not await uow.messages.add_inbound_if_new(duplicate)
        await uow.commit()
    async with factory(org) as uow:
        assert await uow.messages.get_by_wamid(wamid) == first
        assert set(await uow.messages.get_many_by_wamids([wamid, "wamid.none"])) == {wamid}
        page, total = await uow.messages.list_for_contact(person.id, limit=1, offset=0)
        assert total == 2 and [m.id for m in page] == [other.id]
    async with factory(await stores.organization(factory)) as uow:
        assert await uow.messages.get(first.id) is None
        assert await uow.messages.get_by_wamid(wamid) is None
