"""The inbox (group-committed webhook storage, leased claims) and the outbox (budgeted claims of queued messages)
against a real PostgreSQL, in a database of their own: claims look at every row of the table."""

from __future__ import annotations

import asyncio
import hashlib
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from adapters.postgres.database import asyncpg_dsn
from adapters.postgres.inbox import INBOX_CHANNEL, AsyncpgWebhookInbox, inbox_pool
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from application.ports.channel import InboxItem, WebhookOutcome
from application.ports.uow import DatabaseUnavailable
from domain.channel import Message, NumberStatus, WhatsAppNumber
from domain.contacts import Contact
from domain.messaging import MessageDirection
from tests.integration.postgres.conftest import make_org

pytestmark = pytest.mark.integration


OWN_DATABASE = "pytake_queues"  # the module's own database (tests/integration/postgres/conftest.py)


@pytest.fixture
async def clean(own_database: str) -> AsyncIterator[str]:
    yield own_database
    connection = await asyncpg.connect(asyncpg_dsn(own_database))
    try:
        await connection.execute("DELETE FROM webhook_events; DELETE FROM messages; DELETE FROM send_admissions")
    finally:
        await connection.close()


async def sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


def item(body: bytes, *keys: str) -> InboxItem:
    return InboxItem(id=uuid4(), body=body, body_sha256=hashlib.sha256(body).hexdigest(),
                     received_at=datetime.now(UTC), sender_keys=keys)


# --------------------------------------------------------------------------- the inbox: group commit


async def test_concurrent_deliveries_share_commits_and_each_is_stored_once(clean: str) -> None:
    pool_iter = inbox_pool(asyncpg_dsn(clean), app_role="pytake_app", size=2)
    pool = await anext(pool_iter)
    try:
        inbox = AsyncpgWebhookInbox(pool, writers=2)
        items = [item(f'{{"n": {i}}}'.encode(), f"pnid:{i % 7}") for i in range(300)]
        stored = await asyncio.gather(*(inbox.add(i) for i in items))
        assert stored == [True] * 300
        again = await asyncio.gather(*(inbox.add(item(i.body)) for i in items[:50]))  # Meta's redeliveries
        assert again == [False] * 50
    finally:
        await anext(pool_iter, None)
    rows = await sql(clean, "SELECT count(*) AS n, count(DISTINCT xmin::text) AS transactions FROM webhook_events")
    assert rows[0]["n"] == 300
    assert rows[0]["transactions"] < 100  # group commit: many deliveries per transaction, not one each
    [keys] = await sql(clean, "SELECT sender_keys FROM webhook_events WHERE id = $1", items[8].id)
    assert keys["sender_keys"] == ["pnid:1"]


async def test_the_same_body_twice_in_one_group_is_stored_once(clean: str) -> None:
    pool_iter = inbox_pool(asyncpg_dsn(clean), app_role="pytake_app")
    pool = await anext(pool_iter)
    try:
        inbox = AsyncpgWebhookInbox(pool, writers=1)
        first, second = item(b'{"same": true}'), item(b'{"same": true}')
        assert sorted(await asyncio.gather(inbox.add(first), inbox.add(second))) == [False, True]
    finally:
        await anext(pool_iter, None)
    assert (await sql(clean, "SELECT count(*) AS n FROM webhook_events"))[0]["n"] == 1


async def test_a_stored_delivery_wakes_the_listening_workers(clean: str) -> None:
    listener = await asyncpg.connect(asyncpg_dsn(clean))
    woken = asyncio.Event()
    await listener.add_listener(INBOX_CHANNEL, lambda *_: woken.set())
    pool_iter = inbox_pool(asyncpg_dsn(clean), app_role="pytake_app")
    pool = await anext(pool_iter)
    try:
        assert await AsyncpgWebhookInbox(pool).add(item(b'{"wake": 1}'))
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await anext(pool_iter, None)
        await listener.close()


async def test_an_unreachable_database_is_database_unavailable_for_every_waiting_request() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the socket closes
    pool_iter = inbox_pool(f"postgresql://postgres@127.0.0.1:{port}/nothing", app_role=None)
    pool = await anext(pool_iter)
    try:
        inbox = AsyncpgWebhookInbox(pool)
        results = await asyncio.gather(inbox.add(item(b"1")), inbox.add(item(b"2")), return_exceptions=True)
        assert all(isinstance(r, DatabaseUnavailable) for r in results), results
    finally:
        await anext(pool_iter, None)


# --------------------------------------------------------------------------- the inbox: leased claims


async def store(url: str, *deliveries: tuple[bytes, tuple[str, ...]]) -> list[UUID]:
    pool_iter = inbox_pool(asyncpg_dsn(url), app_role="pytake_app")
    pool = await anext(pool_iter)
    try:
        inbox = AsyncpgWebhookInbox(pool, writers=1)
        ids = []
        for body, keys in deliveries:  # one after the other: arrival order is seq order
            delivery = item(body, *keys)
            assert await inbox.add(delivery)
            ids.append(delivery.id)
        return ids
    finally:
        await anext(pool_iter, None)


async def claim(own_factory: SqlAlchemyUnitOfWorkFactory, limit: int, now: datetime) -> list[UUID]:
    async with own_factory() as uow:
        claimed = await uow.webhook_events.claim(limit=limit, now=now, lease_until=now + timedelta(seconds=30))
        await uow.commit()
    return [w.id for w in claimed]


async def test_claims_are_leased_in_arrival_order_and_never_two_about_one_sender(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    ids = await store(clean, *((f'{{"i": {i}}}'.encode(), (f"s{i % 4}",)) for i in range(40)),
                      (b'{"status": 1}', ()))
    now = datetime.now(UTC)
    first, second = await asyncio.gather(claim(own_factory, 10, now), claim(own_factory, 10, now))
    assert first and second and not set(first) & set(second)
    senders = {i: ids.index(i) % 4 for i in ids[:40]}
    assert not {senders[i] for i in first if i in senders} & {senders[i] for i in second if i in senders}
    for claimed in (first, second):
        assert claimed == sorted(claimed, key=ids.index)  # arrival order
    rest = await claim(own_factory, 100, now)
    assert rest in ([ids[40]], [])  # every sender is leased now: only the status (no sender) may go


async def test_a_lease_that_runs_out_is_claimed_again_and_a_processed_delivery_never(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    ids = await store(clean, (b'{"a": 1}', ("x",)), (b'{"b": 2}', ("y",)))
    now = datetime.now(UTC)
    assert await claim(own_factory, 10, now) == ids
    assert await claim(own_factory, 10, now + timedelta(seconds=10)) == []
    async with own_factory() as uow:
        await uow.webhook_events.extend_lease([ids[1]], now + timedelta(seconds=90))
        await uow.webhook_events.mark_processed([WebhookOutcome(webhook_id=ids[0], summary={"inbound": 1})], now)
        await uow.commit()
    assert await claim(own_factory, 10, now + timedelta(seconds=60)) == []  # one done, the other still leased
    assert await claim(own_factory, 10, now + timedelta(seconds=91)) == [ids[1]]
    [row] = await sql(clean, "SELECT attempts, status FROM webhook_events WHERE id = $1", ids[1])
    assert (row["attempts"], row["status"]) == (2, "pending")
    async with own_factory() as uow:
        await uow.webhook_events.mark_dead(WebhookOutcome(webhook_id=ids[1], summary={"failed": 1}, error="boom"),
                                           now)
        await uow.commit()
    assert await claim(own_factory, 10, now + timedelta(hours=1)) == []
    rows = await sql(clean, "SELECT status, summary::text, last_error, lease_until FROM webhook_events ORDER BY seq")
    assert [(r["status"], r["last_error"], r["lease_until"]) for r in rows] == [
        ("processed", None, None), ("dead", "boom", None)]


# --------------------------------------------------------------------------- the outbox


async def outbox_world(own_factory: SqlAlchemyUnitOfWorkFactory, recipients: int) -> tuple[UUID, WhatsAppNumber,
                                                                                        list[Contact]]:
    org, _ = await make_org(own_factory)
    now = datetime.now(UTC)
    number = WhatsAppNumber(id=uuid4(), organization_id=org, phone_number_id=uuid4().hex[:15], waba_id="1",
                            phone_number="15550783881", display_name="Shop", status=NumberStatus.ACTIVE,
                            verified=True, access_token_secret_id=uuid4(), created_at=now, updated_at=now)
    people = [Contact(id=uuid4(), organization_id=org, whatsapp_id=f"551190{i:07d}", created_at=now, updated_at=now)
              for i in range(recipients)]
    async with own_factory(org) as uow:
        await uow.numbers.add(number)
        await uow.contacts.add_many(people)
        await uow.commit()
    return org, number, people


async def queue(own_factory: SqlAlchemyUnitOfWorkFactory, number: WhatsAppNumber, person: Contact, text: str,
                kind: str = "text") -> Message:
    now = datetime.now(UTC)
    message = Message(id=uuid4(), organization_id=number.organization_id, number_id=number.id,
                      contact_id=person.id, direction=MessageDirection.OUTBOUND, type=kind, content={"text": text},
                      status="queued", occurred_at=now, created_at=now, updated_at=now)
    async with own_factory(number.organization_id) as uow:
        await uow.messages.add(message)
        await uow.commit()
    return message


async def take(own_factory: SqlAlchemyUnitOfWorkFactory, number: WhatsAppNumber, *, per_second: int = 80,
               now: datetime | None = None, hold: timedelta = timedelta(seconds=3)) -> list[tuple[str, str | None]]:
    async with own_factory(number.organization_id) as uow:
        claimed = await uow.outbox.claim(number.id, per_second=per_second, limit=500, now=now or datetime.now(UTC),
                                         hold_after_media=hold)
        await uow.commit()
    return [(m.content["text"], to) for m, to in claimed.messages]


async def test_the_claim_takes_each_recipients_oldest_message_and_never_two_at_once(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    _, number, (ana, bia) = await outbox_world(own_factory, 2)
    for text in ("a1", "a2", "a3"):
        await queue(own_factory, number, ana, text)
    await queue(own_factory, number, bia, "b1")
    assert await take(own_factory, number) == [("a1", ana.whatsapp_id), ("b1", bia.whatsapp_id)]
    assert await take(own_factory, number) == []  # a1 is in flight: a2 waits for it
    await sql(clean, "UPDATE messages SET status = 'sent', sent_at = now() WHERE content->>'text' = 'a1'")
    assert await take(own_factory, number) == [("a2", ana.whatsapp_id)]


async def test_a_recent_unconfirmed_media_message_holds_the_next_one(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    _, number, [ana] = await outbox_world(own_factory, 1)
    await queue(own_factory, number, ana, "picture", kind="image")
    await queue(own_factory, number, ana, "caption follows")
    assert await take(own_factory, number) == [("picture", ana.whatsapp_id)]
    await sql(clean, "UPDATE messages SET status = 'sent', sent_at = now() WHERE content->>'text' = 'picture'")
    assert await take(own_factory, number) == []
    assert await take(own_factory, number, now=datetime.now(UTC) + timedelta(seconds=4)) == [
        ("caption follows", ana.whatsapp_id)]


async def test_replicas_claiming_at_once_never_exceed_the_numbers_budget_in_a_second(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    _, number, people = await outbox_world(own_factory, 60)
    for person in people:
        await queue(own_factory, number, person, person.whatsapp_id)
    claimed = await asyncio.gather(*(take(own_factory, number, per_second=20) for _ in range(6)))
    taken = [t for batch in claimed for t in batch]
    assert len(taken) == len(set(taken))  # nothing claimed twice
    rows = await sql(clean, "SELECT second, count FROM send_admissions WHERE key = $1", f"number:{number.id}")
    assert sum(r["count"] for r in rows) == len(taken)
    assert max(r["count"] for r in rows) <= 20


async def test_due_numbers_and_unconfirmed_sends_are_found_across_organizations(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    org, number, [ana] = await outbox_world(own_factory, 1)
    message = await queue(own_factory, number, ana, "hello")
    now = datetime.now(UTC)
    async with own_factory() as uow:
        assert (org, number.id) in await uow.outbox.due_numbers(now, 100)
    assert await take(own_factory, number) == [("hello", ana.whatsapp_id)]
    async with own_factory() as uow:
        assert (org, number.id) not in await uow.outbox.due_numbers(now, 100)
        assert await uow.outbox.unconfirmed(now - timedelta(minutes=10), 100) == []
        assert (org, message.id) in await uow.outbox.unconfirmed(now + timedelta(minutes=1), 100)


async def test_a_claim_takes_every_pending_delivery_about_the_senders_it_chose(
        clean: str, own_factory: SqlAlchemyUnitOfWorkFactory) -> None:
    ids = await store(clean, (b'{"x": 2}', ("x",)), (b'{"y": 1}', ("y",)), (b'{"x": 1}', ("x",)),
                      (b'{"x": 3}', ("x", "z")), (b'{"z": 1}', ("z",)))
    now = datetime.now(UTC)
    # one asked for, but the sender's whole backlog comes along (applied together, in Meta's order)
    assert await claim(own_factory, 1, now) == [ids[0], ids[2], ids[3]]
    assert await claim(own_factory, 10, now) == [ids[1]]  # z waits: its delivery with x is leased
