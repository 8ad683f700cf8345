"""Contact identity end to end: system messages (number and BSUID changes), username users known only by their
BSUID, Brazil's ninth digit and merges, through the signed webhook route and the real worker."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    contact_messages,
    deliver,
    fetch,
    org_with_number,
    random_digits,
    random_wa_id,
    send,
    send_template,
    sends_of,
    wait_processed,
    wait_status,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer

pytestmark = pytest.mark.e2e

T = 1_780_000_000


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


def bsuid() -> str:
    return "US." + random_digits(20, "1")


async def contacts_named(database_url: str, org: WaOrg, *numbers: str) -> list[Any]:
    return await fetch(database_url, "SELECT id, whatsapp_id, bsuid, name, tags FROM contacts "
                                     "WHERE organization_id = (SELECT organization_id FROM whatsapp_numbers "
                                     "WHERE phone_number_id = $1) AND (whatsapp_id = ANY($2) OR bsuid = ANY($2)) "
                                     "ORDER BY created_at", org.phone_number_id, list(numbers))


async def conversation_of(database_url: str, contact_id: Any) -> list[Any]:
    return await fetch(database_url, "SELECT last_inbound_at FROM conversations WHERE contact_id = $1", contact_id)


async def inbound(client: httpx.AsyncClient, database_url: str, payload: dict[str, Any]) -> dict[str, int]:
    return await wait_processed(database_url, await deliver(client, payload))


async def test_a_number_change_moves_the_contact_records_a_system_message_and_keeps_the_window_shut(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    old, new = random_wa_id(), random_wa_id()
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, old, "hello", name="Sheena", timestamp=T)) == {"inbound": 1}
    [person] = await contacts_named(database_url, org, old)
    [before] = await conversation_of(database_url, person["id"])
    change = builders.system_message(org.phone_number_id, "user_changed_number", from_wa_id=old, new_wa_id=new,
                                     body=f"User Sheena changed from {old} to {new}", timestamp=T + 7200)
    assert await inbound(client, database_url, change) == {"system": 1}
    [moved] = await contacts_named(database_url, org, old, new)
    assert (moved["id"], moved["whatsapp_id"]) == (person["id"], new)
    [after] = await conversation_of(database_url, person["id"])
    assert after["last_inbound_at"] == before["last_inbound_at"]  # a notice is not the user writing
    thread = await contact_messages(client, org, str(person["id"]))
    system = [m for m in thread if m["direction"] == "system"]
    assert [(m["type"], m["status"], m["content"]["system_type"], m["content"]["wa_id"]) for m in system] == [
        ("system", "received", "user_changed_number", new)]
    # what they write next from the new number lands on the same contact
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, new, "it's me", timestamp=T + 7300)) == {"inbound": 1}
    assert len(await contact_messages(client, org, str(person["id"]))) == 3
    # a redelivery of the notice changes nothing twice
    assert await inbound(client, database_url, builders.batch(change, builders.inbound_text(
        org.phone_number_id, new, "again", timestamp=T + 7400))) == {"duplicates": 1, "inbound": 1}


async def test_a_system_message_saying_stop_runs_no_opt_out_and_opens_no_window(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    someone, stranger = random_wa_id(), random_wa_id()
    created = await client.post(f"{API}/contacts", headers=org.headers, json={"whatsapp_id": someone})
    assert created.status_code == 201, created.text
    notice = builders.system_message(org.phone_number_id, "customer_identity_changed", from_wa_id=someone,
                                     body="STOP", timestamp=T)
    unknown = builders.system_message(org.phone_number_id, "customer_identity_changed", from_wa_id=stranger,
                                      body="STOP", timestamp=T)
    assert await inbound(client, database_url, builders.batch(notice, unknown)) == {"system": 2}
    [person] = await fetch(database_url, "SELECT opted_out FROM contacts WHERE id = $1", UUID(created.json()["id"]))
    assert person["opted_out"] is False  # no opt-out keyword ran
    assert await conversation_of(database_url, UUID(created.json()["id"])) == []  # no window opened
    [shown] = await contact_messages(client, org, created.json()["id"])
    assert (shown["direction"], shown["content"]["system_type"], shown["content"]["body"]) == (
        "system", "customer_identity_changed", "STOP")
    rows = await fetch(database_url, "SELECT contact_id, direction FROM messages WHERE wamid = $1",
                       unknown["entry"][0]["changes"][0]["value"]["messages"][0]["id"])
    assert [(r["direction"], r["contact_id"]) for r in rows] == [("system", None)]  # kept, for nobody known
    assert await contacts_named(database_url, org, stranger) == []
    response = await send(client, org, someone, message="hi")  # still outside the 24-hour window
    assert (response.status_code, response.json()["error_code"]) == (400, "outside_customer_service_window")


async def test_a_number_change_to_a_number_another_contact_has_merges_them(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    old, new = random_wa_id(), random_wa_id()
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, old, "from old", timestamp=T))
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, new, "from new", name="Other",
                                                              timestamp=T + 1))
    first, second = await contacts_named(database_url, org, old, new)
    assert await inbound(client, database_url, builders.system_message(
        org.phone_number_id, "user_changed_number", from_wa_id=old, new_wa_id=new, timestamp=T + 2)) == {"system": 1}
    [merged] = await contacts_named(database_url, org, old, new)
    assert (merged["id"], merged["whatsapp_id"]) == (first["id"], new)
    texts = sorted(m["content"].get("text", m["direction"]) for m in await contact_messages(
        client, org, str(first["id"])))
    assert texts == ["from new", "from old", "system"]
    assert await fetch(database_url, "SELECT 1 FROM contacts WHERE id = $1", second["id"]) == []
    assert len(await conversation_of(database_url, first["id"])) == 1


async def test_a_bsuid_change_without_from_updates_the_contact(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    phone, old_user, new_user = random_wa_id(), bsuid(), bsuid()
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, phone, "hi", user_id=old_user,
                                                              timestamp=T))
    [person] = await contacts_named(database_url, org, phone)
    assert person["bsuid"] == old_user
    assert await inbound(client, database_url, builders.system_message(
        org.phone_number_id, "user_changed_user_id", user_id=new_user, previous_user_id=old_user,
        timestamp=T + 5)) == {"system": 1}
    [person] = await contacts_named(database_url, org, phone)
    assert (person["whatsapp_id"], person["bsuid"]) == (phone, new_user)


async def test_a_username_user_is_a_contact_without_phone_answered_by_recipient_then_merged_when_seen_with_one(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    user, phone = bsuid(), random_wa_id()
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, None, "Does it come in another color?", user_id=user, name="Sheena")) == {"inbound": 1}
    [username] = await contacts_named(database_url, org, user)
    assert (username["whatsapp_id"], username["bsuid"], username["name"]) == (None, user, "Sheena")
    listed = await client.get(f"{API}/contacts/{username['id']}", headers=org.headers)
    assert listed.status_code == 200 and (listed.json()["whatsapp_id"], listed.json()["bsuid"]) == (None, user)
    # the reply goes to the BSUID with Meta's "recipient" field (the fake checks the shape)
    reply = await send(client, org, user, message="Yes: red and blue")
    assert reply.status_code == 202, reply.text
    message_id = reply.json()["message_id"]
    await wait_status(client, org, message_id, "sent")
    [sent] = sends_of(fake_graph, message_id)
    assert sent.body.get("recipient") == user and "to" not in sent.body
    # the same person known by phone (a contact of their own) writes with both ids: one contact remains
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, phone, "by phone",
                                                              timestamp=T + 10))
    [by_phone] = await contacts_named(database_url, org, phone)
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, phone, "both", user_id=user, timestamp=T + 20)) == {"inbound": 1}
    [merged] = await contacts_named(database_url, org, phone, user)
    assert (merged["whatsapp_id"], merged["bsuid"]) == (phone, user)
    assert merged["id"] == username["id"]  # the oldest contact keeps its id
    thread = await contact_messages(client, org, str(merged["id"]))
    assert sorted(m["content"].get("text", "") for m in thread) == sorted(
        ["Does it come in another color?", "Yes: red and blue", "by phone", "both"])
    assert len(await conversation_of(database_url, merged["id"])) == 1


async def test_brazils_ninth_digit_lands_on_the_existing_contact_and_duplicates_merge(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    local = random_digits(8, "8")  # eight digits whose first is 6-9: a mobile
    with_nine, without = f"55119{local}", f"5511{local}"
    created = await client.post(f"{API}/contacts", headers=org.headers, json={"whatsapp_id": with_nine,
                                                                             "name": "Ana", "tags": ["vip"]})
    assert created.status_code == 201, created.text
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, without, "oi", timestamp=T)) == {"inbound": 1}
    [ana] = await contacts_named(database_url, org, with_nine, without)
    assert (str(ana["id"]), ana["whatsapp_id"]) == (created.json()["id"], with_nine)
    assert len(await contact_messages(client, org, created.json()["id"])) == 1
    # two contacts that are spellings of one number (made before this rule): merged on the next message
    other = await fetch(database_url, """
        INSERT INTO contacts (id, organization_id, whatsapp_id, name, tags, attributes, opted_out, created_at,
                              updated_at)
        SELECT gen_random_uuid(), organization_id, $2, 'Ana B', '{friend}', '{"city": "SP"}', false, now(), now()
        FROM contacts WHERE id = $1 RETURNING id""", ana["id"], without)
    await fetch(database_url, """
        INSERT INTO messages (id, organization_id, number_id, contact_id, direction, type, content, status, source,
                              occurred_at, created_at, updated_at)
        SELECT gen_random_uuid(), organization_id, $2, $1, 'outbound', 'text', '{"text": "old"}', 'sent', 'api',
               now(), now(), now() FROM contacts WHERE id = $1""", other[0]["id"], UUID(org.number["id"]))
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, without, "de novo", timestamp=T + 5)) == {"inbound": 1}
    [ana] = await contacts_named(database_url, org, with_nine, without)
    assert str(ana["id"]) == created.json()["id"] and sorted(ana["tags"]) == ["friend", "vip"]
    assert sorted(m["content"]["text"] for m in await contact_messages(client, org, str(ana["id"]))) == [
        "de novo", "oi", "old"]


async def test_merges_never_cross_organizations(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                org: WaOrg, database_url: str) -> None:
    other = await org_with_number(client, fake_graph)
    phone, user = random_wa_id(), bsuid()
    await inbound(client, database_url, builders.inbound_text(other.phone_number_id, phone, "theirs", timestamp=T))
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, None, "mine", user_id=user,
                                                              timestamp=T))
    await inbound(client, database_url, builders.inbound_text(org.phone_number_id, phone, "both", user_id=user,
                                                              timestamp=T + 1))
    [theirs] = await contacts_named(database_url, other, phone)
    assert theirs["bsuid"] is None and len(await contact_messages(client, other, str(theirs["id"]))) == 1
    [mine] = await contacts_named(database_url, org, phone, user)
    assert (mine["whatsapp_id"], mine["bsuid"]) == (phone, user)



async def test_metas_canonical_wa_id_from_a_send_is_stored_on_the_contact(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    local = random_digits(8, "9")
    typed, canonical = f"55319{local}", f"5531{local}"  # an older Minas Gerais account: WhatsApp drops the 9
    created = await client.post(f"{API}/contacts", headers=org.headers, json={"whatsapp_id": typed})
    assert created.status_code == 201, created.text
    message_id = await send_template(client, org, typed)
    await wait_status(client, org, message_id, "sent")
    [sent] = sends_of(fake_graph, message_id)
    assert sent.body["to"] == f"+{typed}"
    [person] = await contacts_named(database_url, org, typed, canonical)
    assert (str(person["id"]), person["whatsapp_id"]) == (created.json()["id"], canonical)
    assert await inbound(client, database_url, builders.inbound_text(
        org.phone_number_id, canonical, "recebi", timestamp=T)) == {"inbound": 1}
    assert len(await contact_messages(client, org, created.json()["id"])) == 2
    # a number Meta knows as written stays as written
    other = f"55119{random_digits(8, '9')}"
    sent_id = await send_template(client, org, other)
    await wait_status(client, org, sent_id, "sent")
    assert [c["whatsapp_id"] for c in await contacts_named(database_url, org, other)] == [other]
