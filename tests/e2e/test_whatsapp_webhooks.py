"""Meta's webhook end to end: signed deliveries through the API, processed by the real worker."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import VERIFY_TOKEN
from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    contact_by_wa_id,
    contact_messages,
    count,
    deliver,
    fetch,
    get_message,
    org_with_number,
    random_digits,
    random_wa_id,
    send_template,
    signed,
    wait_processed,
    wait_status,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def test_signed_inbound_text_becomes_a_contact_and_a_message(client: httpx.AsyncClient, org: WaOrg,
                                                                   database_url: str) -> None:
    wa_id = random_wa_id()
    payload = builders.inbound_text(org.phone_number_id, wa_id, "Does it come in another color?",
                                    name="Sheena Nelson", timestamp=1749416383)
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    body = await deliver(client, payload)
    assert await wait_processed(database_url, body) == {"inbound": 1}
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None and contact["name"] == "Sheena Nelson"
    [message] = await contact_messages(client, org, contact["id"])
    assert (message["direction"], message["type"], message["status"], message["wamid"]) == (
        "inbound", "text", "received", wamid)
    assert message["content"] == {"text": "Does it come in another color?"}
    assert message["contact_id"] == contact["id"] and message["number_id"] == org.number["id"]
    assert message["occurred_at"].startswith("2025-06-08T")
    assert (await get_message(client, org, message["id"]))["status_history"] == []


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha256=", "garbage"],
                         ids=["missing", "wrong", "empty", "malformed"])
async def test_bad_or_missing_signature_is_401_and_stores_nothing(client: httpx.AsyncClient, org: WaOrg,
                                                                  database_url: str, signature: str | None) -> None:
    payload = builders.inbound_text(org.phone_number_id, random_wa_id(), "hi")
    body = builders.webhook_body(payload)
    before = await count(database_url, "SELECT count(*) FROM webhook_events")
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = await client.post(f"{API}/whatsapp/webhook", content=body, headers=headers)
    assert_error_shape(response, 401, "invalid_signature")
    assert await count(database_url, "SELECT count(*) FROM webhook_events") == before


async def test_signature_of_other_bytes_or_another_secret_is_refused(client: httpx.AsyncClient, org: WaOrg,
                                                                     database_url: str) -> None:
    payload = builders.inbound_text(org.phone_number_id, random_wa_id(), "caf\u00e9")
    body, headers = signed(payload)
    before = await count(database_url, "SELECT count(*) FROM webhook_events")
    reserialized = json.dumps(payload, ensure_ascii=False).encode()
    assert_error_shape(await client.post(f"{API}/whatsapp/webhook", content=reserialized, headers=headers), 401)
    _, other = signed(payload, secret="not-our-app-secret")
    assert_error_shape(await client.post(f"{API}/whatsapp/webhook", content=body, headers=other), 401)
    assert await count(database_url, "SELECT count(*) FROM webhook_events") == before


async def test_the_same_webhook_delivered_five_times_stores_one_message(client: httpx.AsyncClient, org: WaOrg,
                                                                        database_url: str) -> None:
    wa_id = random_wa_id()
    body, headers = signed(builders.inbound_text(org.phone_number_id, wa_id, "only once"))
    answers = []
    for _ in range(5):
        response = await client.post(f"{API}/whatsapp/webhook", content=body, headers=headers)
        assert response.status_code == 200, response.text
        answers.append(response.json()["status"])
    assert answers == ["received"] + ["duplicate"] * 4
    assert await wait_processed(database_url, body) == {"inbound": 1}
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    assert [m["content"]["text"] for m in await contact_messages(client, org, contact["id"])] == ["only once"]
    assert await count(database_url, "SELECT count(*) FROM webhook_events WHERE body = $1", body) == 1


async def test_the_same_message_in_different_deliveries_is_stored_once(client: httpx.AsyncClient, org: WaOrg,
                                                                       database_url: str) -> None:
    """Meta's retries need not be byte-identical: the wamid deduplicates."""
    wa_id = random_wa_id()
    payload = builders.inbound_text(org.phone_number_id, wa_id, "retry me", timestamp=1749416383)
    first = await deliver(client, payload)
    assert await wait_processed(database_url, first) == {"inbound": 1}
    again = await deliver(client, json.dumps(payload, indent=1).encode())  # other bytes, same message
    assert await wait_processed(database_url, again) == {"duplicates": 1}
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None and len(await contact_messages(client, org, contact["id"])) == 1


async def test_a_batch_with_several_entries_changes_and_messages_is_all_handled(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    ana, bia, caio = random_wa_id(), random_wa_id(), random_wa_id()
    outbound_to = random_wa_id()
    message_id = await send_template(client, org, outbound_to)
    wamid = (await wait_status(client, org, message_id, "sent"))["wamid"]
    two = builders.inbound_text(org.phone_number_id, ana, "first", timestamp=1749416001)
    two["entry"][0]["changes"][0]["value"]["messages"] += builders.inbound_text(
        org.phone_number_id, ana, "second", timestamp=1749416002)["entry"][0]["changes"][0]["value"]["messages"]
    payload = builders.batch(
        two,
        builders.inbound_button_reply(org.phone_number_id, bia, "yes-btn", "Yes", waba_id="333"),
        builders.inbound_quick_reply(org.phone_number_id, caio, "stop_promos", "Stop", waba_id="333"),
        builders.status_update(org.phone_number_id, wamid, "delivered", outbound_to, waba_id="333"),
        builders.value_error(org.phone_number_id, 131000, "Something went wrong"))
    assert len(payload["entry"]) == 2 and sum(len(e["changes"]) for e in payload["entry"]) == 5
    body = await deliver(client, payload)
    assert await wait_processed(database_url, body) == {"inbound": 4, "statuses": 1, "errors": 1}
    seen = {}
    for wa_id in (ana, bia, caio):
        contact = await contact_by_wa_id(client, org, wa_id)
        assert contact is not None, wa_id
        seen[wa_id] = [(m["type"], m["content"]) for m in await contact_messages(client, org, contact["id"])]
    assert seen[ana] == [("text", {"text": "second"}), ("text", {"text": "first"})]  # newest first
    assert seen[bia] == [("interactive", {"text": "Yes", "reply_id": "yes-btn",
                                          "button_reply": {"id": "yes-btn", "title": "Yes"}})]
    assert seen[caio] == [("button", {"text": "Stop", "reply_id": "stop_promos"})]
    assert (await get_message(client, org, message_id))["status"] == "delivered"


async def test_unknown_phone_number_id_is_recorded_unroutable(client: httpx.AsyncClient, org: WaOrg,
                                                              database_url: str) -> None:
    stranger, wa_id = random_digits(first="8"), random_wa_id()
    inbound = builders.inbound_text(stranger, wa_id, "hello?")
    wamid = inbound["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    body = await deliver(client, builders.batch(inbound, builders.status_update(stranger, "wamid.unknown", "read",
                                                                                wa_id)))
    assert await wait_processed(database_url, body) == {"unroutable": 2}
    assert await count(database_url, "SELECT count(*) FROM messages WHERE wamid = $1", wamid) == 0
    assert await count(database_url, "SELECT count(*) FROM contacts WHERE whatsapp_id = $1", wa_id) == 0
    [row] = await fetch(database_url, "SELECT status, attempts, last_error FROM webhook_events WHERE body = $1", body)
    assert (row["status"], row["attempts"], row["last_error"]) == ("processed", 1, None)
    # the worker is still healthy: the next delivery for a known number is processed
    follow_up = await deliver(client, builders.inbound_text(org.phone_number_id, random_wa_id(), "still here"))
    assert await wait_processed(database_url, follow_up) == {"inbound": 1}


async def test_unsupported_message_type_is_stored_as_unsupported(client: httpx.AsyncClient, org: WaOrg,
                                                                 database_url: str) -> None:
    wa_id = random_wa_id()
    poll = builders.inbound_message(org.phone_number_id, wa_id, "unsupported", None)
    poll["entry"][0]["changes"][0]["value"]["messages"][0]["errors"] = [{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}]
    unknown_type = builders.inbound_message(org.phone_number_id, wa_id, "hologram", {"beam": "me up"})
    body = await deliver(client, builders.batch(poll, unknown_type))
    assert await wait_processed(database_url, body) == {"inbound": 2}
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    messages = await contact_messages(client, org, contact["id"])
    unknown = {"code": 131051, "title": "Message type unknown", "details": "Message type is currently not supported."}
    assert sorted(((m["type"], m["content"], m["direction"]) for m in messages), key=str) == [
        ("unsupported", {"errors": [unknown]}, "inbound"), ("unsupported", {}, "inbound")]


async def test_statuses_out_of_order_end_read_with_history_once_per_status(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    to = random_wa_id()
    message_id = await send_template(client, org, to)
    sent = await wait_status(client, org, message_id, "sent")
    wamid = sent["wamid"]
    for status, stamp in (("read", 1750030300), ("sent", 1750030100), ("delivered", 1750030200),
                          ("read", 1750030300)):
        body = await deliver(client, builders.status_update(org.phone_number_id, wamid, status, to,
                                                            timestamp=stamp, tracking=message_id))
        await wait_processed(database_url, body)
    detail = await get_message(client, org, message_id)
    assert detail["status"] == "read" and detail["wamid"] == wamid
    assert detail["read_at"].startswith("2025-06-15T23:31:40")  # 1750030300
    assert detail["delivered_at"].startswith("2025-06-15T23:30:00")  # 1750030200
    assert sorted(e["status"] for e in detail["status_history"]) == ["delivered", "read", "sent"]
    assert await count(database_url, "SELECT count(*) FROM message_status_events WHERE message_id = $1::uuid",
                       message_id) == 3


async def test_failed_status_carries_its_error_code(client: httpx.AsyncClient, org: WaOrg,
                                                    database_url: str) -> None:
    to = random_wa_id()
    message_id = await send_template(client, org, to)
    wamid = (await wait_status(client, org, message_id, "sent"))["wamid"]
    failed = builders.status_update(org.phone_number_id, wamid, "failed", to, timestamp=1751142888, errors=[
        (131049, "This message was not delivered to maintain healthy ecosystem engagement.",
         "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.")])
    assert await wait_processed(database_url, await deliver(client, failed)) == {"statuses": 1}
    late_read = builders.status_update(org.phone_number_id, wamid, "read", to, timestamp=1751142999)
    await wait_processed(database_url, await deliver(client, late_read))
    detail = await get_message(client, org, message_id)
    assert (detail["status"], detail["error_code"]) == ("failed", 131049)
    assert detail["error_title"] == "This message was not delivered to maintain healthy ecosystem engagement."
    history = {e["status"]: e for e in detail["status_history"]}
    assert history["failed"]["error_code"] == 131049 and set(history) == {"sent", "failed", "read"}


async def test_status_for_another_organizations_number_does_not_touch_our_message(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    to = random_wa_id()
    message_id = await send_template(client, org, to)
    wamid = (await wait_status(client, org, message_id, "sent"))["wamid"]
    other = await org_with_number(client, fake_graph)
    body = await deliver(client, builders.status_update(other.phone_number_id, wamid, "read", to))
    assert await wait_processed(database_url, body) == {"unknown_message": 1}
    assert (await get_message(client, org, message_id))["status"] == "sent"


# --------------------------------------------------------------------------- verification handshake


async def test_verification_handshake_echoes_the_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{API}/whatsapp/webhook", params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.challenge": "1"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN + "x", "hub.challenge": "1"},
], ids=["wrong-token", "no-token", "wrong-mode", "longer-token"])
async def test_verification_handshake_refuses_a_wrong_token(client: httpx.AsyncClient,
                                                            params: dict[str, str]) -> None:
    response = await client.get(f"{API}/whatsapp/webhook", params=params)
    assert_error_shape(response, 403, "invalid_verify_token")
