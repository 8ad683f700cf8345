"""The WhatsApp channel's PostgreSQL repositories against a real server: constraints, idempotency, locking, pacing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from adapters.postgres.database import create_engine
from adapters.postgres.repositories.pacing import PostgresSendPacer
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.channel import StatusEvent
from domain.channel import Message, NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from domain.contacts import Contact
from domain.messaging import MessageDirection, MessageStatus
from tests.e2e.whatsapp_support import fetch, random_digits
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration


def _now() -> datetime:
    return datetime.now(UTC)


def _number(org: UUID, phone_number_id: str, *, created_at: datetime | None = None,
            status: NumberStatus = NumberStatus.ACTIVE) -> WhatsAppNumber:
    at = created_at or _now()
    return WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id=phone_number_id, waba_id="1",
                          phone_number="15550783881", display_name="Shop", status=status, verified=True,
                          access_token_secret_id=uuid4(), created_at=at, updated_at=at)


async def _org_number_contact(uow_factory: SqlAlchemyUnitOfWorkFactory) -> tuple[UUID, WhatsAppNumber, Contact]:
    org, _ = await make_org(uow_factory)
    number = _number(org, random_digits())
    now = _now()
    contact = Contact(id=uuid4(), organization_id=org, whatsapp_id=random_digits(13, "5"), created_at=now,
                      updated_at=now)
    async with uow_factory(org) as uow:
        await uow.numbers.add(number)
        await uow.contacts.add(contact)
        await uow.commit()
    return org, number, contact


def _message(number: WhatsAppNumber, contact: Contact, *, direction: MessageDirection = MessageDirection.INBOUND,
             wamid: str | None = None, text: str = "hi", status: str = "received") -> Message:
    now = _now()
    return Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id, contact_id=contact.id,
                   direction=direction, type="text", content={"text": text}, status=status, wamid=wamid,
                   source="whatsapp", occurred_at=now, created_at=now, updated_at=now)


async def test_phone_number_id_is_unique_across_organizations(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org_a, _ = await make_org(uow_factory)
    org_b, _ = await make_org(uow_factory)
    pnid = random_digits()
    first = _number(org_a, pnid)
    async with uow_factory(org_a) as uow:
        await uow.numbers.add(first)
        await uow.commit()
    for org in (org_a, org_b):
        async with uow_factory(org) as uow:
            with pytest.raises(WhatsAppNumberAlreadyRegistered):
                await uow.numbers.add(_number(org, pnid))
            # the failed insert was in a savepoint: the transaction is still usable
            await uow.numbers.add(_number(org, random_digits()))
            await uow.commit()
    async with uow_factory() as uow:
        found = await uow.numbers.get_by_phone_number_id_any_org(pnid)
    assert found is not None and (found.id, found.organization_id) == (first.id, org_a)
    async with uow_factory(org_b) as uow:
        assert await uow.numbers.get(first.id) is None  # another organization's number is invisible
        numbers, total = await uow.numbers.list(limit=10, offset=0)
    assert total == 1 and numbers[0].phone_number_id != pnid


async def test_only_a_proven_number_is_routed_and_it_supersedes_unproven_ones(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org_a, _ = await make_org(uow_factory)
    org_b, _ = await make_org(uow_factory)
    org_c, _ = await make_org(uow_factory)
    pnid = random_digits()
    squatters = [_number(org, pnid, status=NumberStatus.PENDING) for org in (org_a, org_b)]
    async with uow_factory() as uow:
        for number in squatters:  # unproven registrations of one id may coexist in several organizations
            await uow.numbers.add(number)
        with pytest.raises(WhatsAppNumberAlreadyRegistered):  # but one organization holds an id once
            await uow.numbers.add(_number(org_a, pnid, status=NumberStatus.PENDING))
        await uow.commit()
        assert await uow.numbers.get_by_phone_number_id_any_org(pnid) is None  # pending: never routed

    owner = _number(org_c, pnid)
    now = _now()
    async with uow_factory() as uow:
        await uow.numbers.add(owner)
        await uow.numbers.supersede_unproven_any_org(pnid, owner_organization_id=org_c, reason="superseded", now=now)
        await uow.commit()
    async with uow_factory() as uow:
        routed = await uow.numbers.get_by_phone_number_id_any_org(pnid)
        assert routed is not None and routed.id == owner.id
        late = squatters[0]
        late.status = NumberStatus.ACTIVE
        with pytest.raises(WhatsAppNumberAlreadyRegistered):  # a second proven number of the id is refused
            await uow.numbers.update(late)
        await uow.numbers.update(_number(org_c, random_digits()))  # the savepoint kept the transaction usable
    for squatter in squatters:
        async with uow_factory(squatter.organization_id) as uow:
            stored = await uow.numbers.get(squatter.id)
        assert stored is not None and (stored.status, stored.last_error) == (NumberStatus.INACTIVE, "superseded")


async def test_default_active_is_the_oldest_active_number(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    base = _now()
    pending = _number(org, random_digits(), created_at=base, status=NumberStatus.PENDING)
    older = _number(org, random_digits(), created_at=base + timedelta(seconds=1))
    newer = _number(org, random_digits(), created_at=base + timedelta(seconds=2))
    async with uow_factory(org) as uow:
        for number in (newer, pending, older):
            await uow.numbers.add(number)
        await uow.commit()
    async with uow_factory(org) as uow:
        default = await uow.numbers.default_active()
        numbers, total = await uow.numbers.list(limit=10, offset=0)
    assert default is not None and default.id == older.id
    assert [n.id for n in numbers] == [pending.id, older.id, newer.id] and total == 3


async def test_add_inbound_if_new_is_idempotent_on_the_wamid(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    wamid = f"wamid.{uuid4().hex}"
    first = _message(number, contact, wamid=wamid, text="first")
    async with uow_factory(org) as uow:
        assert await uow.messages.add_inbound_if_new(first) is True
        assert await uow.messages.add_inbound_if_new(_message(number, contact, wamid=wamid, text="again")) is False
        await uow.commit()
    async with uow_factory(org) as uow:  # also in a later transaction
        assert await uow.messages.add_inbound_if_new(_message(number, contact, wamid=wamid, text="later")) is False
        await uow.commit()
    async with uow_factory(org) as uow:
        messages, total = await uow.messages.list_for_contact(contact.id, limit=10, offset=0)
        by_wamid = await uow.messages.get_by_wamid(wamid)
    assert total == 1 and messages[0].id == first.id and messages[0].content == {"text": "first"}
    assert by_wamid is not None and by_wamid.id == first.id and by_wamid.direction is MessageDirection.INBOUND


async def test_concurrent_inbound_inserts_of_one_wamid_store_one(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    wamid = f"wamid.{uuid4().hex}"

    async def insert() -> bool:
        async with uow_factory(org) as uow:
            stored = await uow.messages.add_inbound_if_new(_message(number, contact, wamid=wamid))
            await uow.commit()
        return stored

    assert sorted(await asyncio.gather(*(insert() for _ in range(4)))) == [False, False, False, True]


async def test_record_status_event_once_per_status(uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    message = _message(number, contact, direction=MessageDirection.OUTBOUND, status="queued")
    base = _now()
    async with uow_factory(org) as uow:
        await uow.messages.add(message)
        assert await uow.messages.record_status_event(message, StatusEvent(status="read", occurred_at=base)) is True
        assert await uow.messages.record_status_event(message, StatusEvent(
            status="sent", occurred_at=base - timedelta(seconds=2))) is True
        assert await uow.messages.record_status_event(message, StatusEvent(
            status="read", occurred_at=base + timedelta(seconds=9))) is False
        await uow.commit()
    async with uow_factory(org) as uow:
        assert await uow.messages.record_status_event(message, StatusEvent(
            status="failed", occurred_at=base, error_code=131049, error_title="ecosystem")) is True
        assert await uow.messages.record_status_event(message, StatusEvent(
            status="sent", occurred_at=base)) is False
        await uow.commit()
    async with uow_factory(org) as uow:
        history = await uow.messages.status_history(message.id)
    assert history == [
        StatusEvent(status="sent", occurred_at=base - timedelta(seconds=2)),
        StatusEvent(status="read", occurred_at=base),
        StatusEvent(status="failed", occurred_at=base, error_code=131049, error_title="ecosystem"),
    ]  # by occurred_at, then in the order recorded
    other_org, _ = await make_org(uow_factory)
    async with uow_factory(other_org) as uow:
        assert await uow.messages.status_history(message.id) == []
        assert await uow.messages.get(message.id) is None


async def test_conversation_get_for_update_creates_once_under_concurrency(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    base = _now()

    async def touch(i: int) -> UUID:
        async with uow_factory(org) as uow:
            conversation = await uow.conversations.get_or_create_locked(number.id, contact.id, base)
            conversation.record_inbound(base + timedelta(seconds=i))
            conversation.updated_at = _now()
            await asyncio.sleep(0.01)  # hold the row lock a little: the others must wait, not duplicate
            await uow.conversations.update(conversation)
            await uow.commit()
        return conversation.id

    ids = await asyncio.gather(*(touch(i) for i in range(8)))
    assert len(set(ids)) == 1
    async with uow_factory(org) as uow:
        conversation = await uow.conversations.get(number.id, contact.id)
        opened = await uow.conversations.open_windows(number.id, [contact.id, uuid4()], base + timedelta(hours=23))
        closed = await uow.conversations.open_windows(number.id, [contact.id], base + timedelta(hours=25))
    assert conversation is not None and conversation.id == ids[0]
    assert conversation.last_inbound_at == base + timedelta(seconds=7)  # every locked update kept, none lost
    assert opened == {contact.id} and closed == set()


@pytest.fixture
async def pacer(database_url: str) -> AsyncIterator[PostgresSendPacer]:
    engine = create_engine(database_url, app_role="pytake_app", pool_size=20, max_overflow=0)
    yield PostgresSendPacer(engine)
    await engine.dispose()


async def _next_slot(database_url: str, key: str) -> datetime:
    [row] = await fetch(database_url, "SELECT next_slot_at FROM send_pacers WHERE key = $1", key)
    value: datetime = row["next_slot_at"]
    return value


async def test_pacer_spaces_100_concurrent_reservations_at_50_per_second(pacer: PostgresSendPacer) -> None:
    key, rate = f"number:{uuid4()}", 50.0
    stamps: list[tuple[float, float, float]] = []

    async def reserve() -> None:
        before = time.time()
        wait = await pacer.reserve(key, rate)
        stamps.append((before, time.time(), wait))

    await asyncio.gather(*(reserve() for _ in range(100)))
    waits = sorted(w for _, _, w in stamps)
    call_spread = max(after for _, after, _ in stamps) - min(before for before, _, _ in stamps)
    assert len(set(waits)) == 100 and 0.0 <= waits[0] < 0.2  # distinct slots, the first one (about) now
    # wait = slot - (moment the reservation ran); those moments lie within the calls' spread, so the waits
    # span the 99 intervals between the first and the last slot, give or take that spread
    assert waits[-1] - waits[0] >= 99 / rate - call_spread
    slots = sorted(after + wait for _, after, wait in stamps)  # slot as seen on return (>= the true slot)
    assert slots[-1] - slots[0] >= 99 / rate - call_spread
    assert sum(1 for slot in slots if slot < slots[0] + 1.0 - call_spread) <= 50  # 50 per second at most


async def test_pacer_backlog_advances_exactly_one_interval_per_reservation(pacer: PostgresSendPacer,
                                                                           database_url: str) -> None:
    """Exact, on the server clock: with the bucket already booked ahead, 100 concurrent reservations at
    50/s move the next slot by exactly 100 intervals, so no two of them shared a slot or came closer
    than 1/50 s (interval = 1.02 / rate with the pacer's 2 % margin)."""
    key, rate = f"number:{uuid4()}", 50.0
    assert await pacer.reserve(key, 0.5) < 0.05  # books the next slot ~2 s ahead
    booked = await _next_slot(database_url, key)
    waits = await asyncio.gather(*(pacer.reserve(key, rate) for _ in range(100)))
    interval = 1.02 / rate
    assert interval >= 1 / rate
    assert await _next_slot(database_url, key) - booked == timedelta(seconds=100 * interval)
    ordered = sorted(waits)
    assert ordered[0] > 1.5 and len(set(ordered)) == 100
    assert ordered[-1] - ordered[0] >= 99 * interval - 1.0  # minus the time the 100 calls took, at most


async def test_pacer_reservations_are_exactly_one_interval_apart_when_sequential(pacer: PostgresSendPacer) -> None:
    key, rate = f"number:{uuid4()}", 50.0
    slots = []
    for _ in range(20):
        before = time.time()
        wait = await pacer.reserve(key, rate)
        after = time.time()
        slots.append((before + wait, after + wait))
    for (lo_a, _), (_, hi_b) in zip(slots, slots[1:], strict=False):
        assert hi_b - lo_a >= 1 / rate  # slot b is at least 1/rate after slot a


async def test_pacer_keys_are_independent(pacer: PostgresSendPacer) -> None:
    first, second = f"number:{uuid4()}", f"number:{uuid4()}"
    assert await pacer.reserve(first, 1.0) < 0.05
    assert 0.9 < await pacer.reserve(first, 1.0) <= 1.03
    assert await pacer.reserve(second, 1.0) < 0.05


# --------------------------------------------------------------------------- the batch statements of the inbox


async def test_concurrent_batches_get_or_add_overlapping_contacts_to_the_same_rows(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, _ = await make_org(uow_factory)
    numbers = [random_digits(13, "5") for _ in range(30)]
    now = _now()

    async def batch(chosen: list[str]) -> dict[str, UUID]:
        async with uow_factory(org) as uow:
            found = await uow.contacts.get_or_add_many([
                Contact(id=uuid4(), organization_id=org, whatsapp_id=n, created_at=now, updated_at=now)
                for n in chosen])
            await uow.commit()
        return {n: c.id for n, c in found.items()}

    first, second, third = await asyncio.gather(batch(numbers[:20]), batch(numbers[10:]), batch(numbers))
    assert set(first) == set(numbers[:20]) and set(second) == set(numbers[10:]) and set(third) == set(numbers)
    for n in numbers:  # whoever inserted a number, every batch got that one row
        assert len({ids[n] for ids in (first, second, third) if n in ids}) == 1
    rows = await fetch_rows(uow_factory, org)
    assert sorted(rows) == sorted(numbers)


async def fetch_rows(uow_factory: SqlAlchemyUnitOfWorkFactory, org: UUID) -> list[str]:
    async with uow_factory(org) as uow:
        found, _ = await uow.contacts.search(query=None, limit=200, offset=0)
    return [c.whatsapp_id for c in found]


async def test_record_inbound_many_creates_and_moves_conversations_forward_only(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    base = _now()
    async with uow_factory(org) as uow:
        [created] = (await uow.conversations.record_inbound_many(
            [(number.id, contact.id, base, 1)], base)).values()
        await uow.commit()
    assert (created.last_inbound_at, created.last_message_at) == (base, base)
    async with uow_factory(org) as uow:  # an older inbound (a late webhook) never moves the window back
        older = await uow.conversations.record_inbound_many([(number.id, contact.id, base - timedelta(hours=1), 1)],
                                                            base)
        newer = await uow.conversations.record_inbound_many([(number.id, contact.id, base + timedelta(minutes=5), 1)],
                                                            base)
        await uow.commit()
    assert older[(number.id, contact.id)].last_inbound_at == base
    assert newer[(number.id, contact.id)].last_inbound_at == base + timedelta(minutes=5)
    assert newer[(number.id, contact.id)].id == created.id


async def test_add_inbound_many_stores_each_wamid_once_even_twice_in_one_batch(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    known = _message(number, contact, wamid=f"wamid.{uuid4().hex}", text="earlier")
    async with uow_factory(org) as uow:
        assert await uow.messages.add_inbound_many([known]) == {known.id}
        await uow.commit()
    twin = f"wamid.{uuid4().hex}"
    batch = [_message(number, contact, wamid=known.wamid, text="again"),
             _message(number, contact, wamid=twin, text="one"), _message(number, contact, wamid=twin, text="two"),
             _message(number, contact, wamid=f"wamid.{uuid4().hex}", text="three")]
    async with uow_factory(org) as uow:
        stored = await uow.messages.add_inbound_many(batch)
        await uow.commit()
    assert stored == {batch[1].id, batch[3].id}
    async with uow_factory(org) as uow:
        messages, total = await uow.messages.list_for_contact(contact.id, limit=10, offset=0)
    assert total == 3 and sorted(m.content["text"] for m in messages) == ["earlier", "one", "three"]


async def test_status_batches_update_many_and_record_each_status_once(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    messages = [_message(number, contact, direction=MessageDirection.OUTBOUND, status="queued") for _ in range(3)]
    base = _now()
    async with uow_factory(org) as uow:
        for message in messages:
            await uow.messages.add(message)
        await uow.commit()
    async with uow_factory(org) as uow:
        found = await uow.messages.get_many([m.id for m in messages], for_update=True)
        for i, message in enumerate(found.values()):
            message.wamid, message.confirmed_at = f"wamid.{message.id}", base
            message.apply_status(MessageStatus.SENT, base + timedelta(seconds=i))
        await uow.messages.update_many(list(found.values()))
        events = [(m, StatusEvent(status="sent", occurred_at=base)) for m in found.values()]
        assert await uow.messages.record_status_events(events) == {(m.id, "sent") for m in messages}
        assert await uow.messages.record_status_events(events[:1]) == set()
        await uow.commit()
    async with uow_factory(org) as uow:
        by_wamid = await uow.messages.get_many_by_wamids([f"wamid.{m.id}" for m in messages])
    assert {m.status for m in by_wamid.values()} == {"sent"} and len(by_wamid) == 3
    assert {m.confirmed_at for m in by_wamid.values()} == {base}


async def test_update_contents_writes_content_and_deleted_at_of_its_organization_only(
        uow_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, contact = await _org_number_contact(uow_factory)
    other_org, other_number, other_contact = await _org_number_contact(uow_factory)
    mine = [_message(number, contact, wamid=f"wamid.{uuid4().hex}", text=f"m{i}") for i in range(3)]
    theirs = _message(other_number, other_contact, wamid=f"wamid.{uuid4().hex}", text="theirs")
    async with uow_factory(org) as uow:
        await uow.messages.add_inbound_many(mine)
        await uow.commit()
    async with uow_factory(other_org) as uow:
        await uow.messages.add_inbound_many([theirs])
        await uow.commit()
    deleted_at = _now()
    mine[0].content = {"text": "m0 edited", "edits": [{"text": "m0", "since": "2026-01-01T00:00:00+00:00"}],
                       "reactions": [{"by": "contact", "emoji": "\U0001f44d"}]}
    mine[1].content, mine[1].deleted_at = {"deleted": True}, deleted_at
    theirs.content = {"text": "overwritten"}
    async with uow_factory(org) as uow:
        await uow.messages.update_contents([mine[0], mine[1], theirs])  # one statement; theirs is not visible
        await uow.commit()
    async with uow_factory(org) as uow:
        found = await uow.messages.get_many_by_wamids([str(m.wamid) for m in mine])
    assert found[str(mine[0].wamid)].content == mine[0].content and found[str(mine[0].wamid)].deleted_at is None
    assert found[str(mine[1].wamid)].content == {"deleted": True}
    assert found[str(mine[1].wamid)].deleted_at == deleted_at
    assert found[str(mine[2].wamid)].content == {"text": "m2"}
    async with uow_factory(other_org) as uow:
        kept = await uow.messages.get_by_wamid(str(theirs.wamid))
    assert kept is not None and kept.content == {"text": "theirs"}
