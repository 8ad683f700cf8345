"""POST /whatsapp/send end to end: queued by the API, sent by the real worker through the fake Graph API."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    contact_by_wa_id,
    count,
    deliver,
    org_with_number,
    random_wa_id,
    requests_of,
    send,
    send_template,
    sends_of,
    wait_processed,
    wait_status,
    wait_until,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def open_window(client: httpx.AsyncClient, org: WaOrg, database_url: str, wa_id: str) -> None:
    """The contact writes to us (now), which opens the 24-hour customer service window."""
    body = await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "hi there"))
    assert await wait_processed(database_url, body) == {"inbound": 1}


async def queued_jobs_for(database_url: str, message_id: str) -> int:
    return await count(database_url, "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'send_message' "
                                     "AND convert_from(payload, 'UTF8')::jsonb->>'message_id' = $1", message_id)


async def test_text_inside_the_window_goes_queued_then_sent_with_the_wamid(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id = random_wa_id()
    await open_window(client, org, database_url, wa_id)
    response = await send(client, org, f"+{wa_id[:2]} {wa_id[2:4]} {wa_id[4:]}", message="Yes, in blue too!")
    assert response.status_code == 202, response.text
    assert set(response.json()) == {"message_id", "status"} and response.json()["status"] == "queued"
    message_id = response.json()["message_id"]
    detail = await wait_status(client, org, message_id, "sent")
    [accepted] = sends_of(fake_graph, message_id)
    assert detail["wamid"] == accepted.wamid
    assert (accepted.phone_number_id, accepted.to, accepted.type, accepted.content) == (
        org.phone_number_id, f"+{wa_id}", "text", {"body": "Yes, in blue too!"})
    assert accepted.body["messaging_product"] == "whatsapp" and accepted.body["recipient_type"] == "individual"
    assert (detail["direction"], detail["type"], detail["content"], detail["error_code"]) == (
        "outbound", "text", {"text": "Yes, in blue too!"}, None)
    assert [e["status"] for e in detail["status_history"]] == ["sent"]
    assert detail["sent_at"] is not None
    [request] = requests_of(fake_graph, message_id)
    assert request.headers["authorization"] == "<redacted>" and request.token_valid
    async def job_done() -> bool:
        return await queued_jobs_for(database_url, message_id) == 0

    await wait_until(job_done, timeout=5, what="the send job to leave the queue")


async def test_free_form_outside_the_window_is_400_and_nothing_is_queued(
        client: httpx.AsyncClient, org: WaOrg, database_url: str) -> None:
    wa_id = random_wa_id()
    messages_before = await count(database_url, "SELECT count(*) FROM messages")
    jobs_before = await count(database_url, "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'send_message'")
    for body in ({"message": "hello"}, {"type": "interactive", "message": "Pick",
                                        "buttons": [{"id": "a", "title": "A"}]}):
        response = await send(client, org, wa_id, **body)
        assert_error_shape(response, 400, "outside_customer_service_window")
    assert await count(database_url, "SELECT count(*) FROM messages") == messages_before
    assert await count(database_url, "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'send_message'") == jobs_before
    assert await contact_by_wa_id(client, org, wa_id) is None


async def test_template_is_always_allowed_and_creates_the_contact(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    wa_id = random_wa_id()
    components = [{"type": "body", "parameters": [{"type": "text", "text": "Jessica"}]}]
    response = await send(client, org, wa_id, type="template", template_id="order_confirmation",
                          language="en_US", components=components)
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    detail = await wait_status(client, org, message_id, "sent")
    [accepted] = sends_of(fake_graph, message_id)
    assert accepted.type == "template" and accepted.wamid == detail["wamid"]
    assert accepted.content == {"name": "order_confirmation", "language": {"code": "en_US"},
                                "components": components}
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None and detail["contact_id"] == contact["id"]


async def test_interactive_buttons_are_sent_in_meta_shape(client: httpx.AsyncClient, org: WaOrg,
                                                          fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id = random_wa_id()
    await open_window(client, org, database_url, wa_id)
    response = await send(client, org, wa_id, type="interactive", message="Reschedule?",
                          buttons=[{"id": "change-button", "title": "Change"}, {"id": "cancel", "title": "Cancel"}])
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    await wait_status(client, org, message_id, "sent")
    [accepted] = sends_of(fake_graph, message_id)
    assert accepted.content == {"type": "button", "body": {"text": "Reschedule?"}, "action": {"buttons": [
        {"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
        {"type": "reply", "reply": {"id": "cancel", "title": "Cancel"}}]}}


async def test_rate_limited_twice_then_accepted_is_sent_exactly_once(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    fake_graph.fail_next(2, code=130429, http_status=400)
    started = time.monotonic()
    message_id = await send_template(client, org, random_wa_id())
    detail = await wait_status(client, org, message_id, "sent", "failed", timeout=20)
    elapsed = time.monotonic() - started
    assert detail["status"] == "sent", detail
    [accepted] = sends_of(fake_graph, message_id)
    assert detail["wamid"] == accepted.wamid
    attempts = requests_of(fake_graph, message_id)
    assert [r.status for r in attempts] == [400, 400, 200]
    assert attempts[1].at - attempts[0].at >= 0.9 and attempts[2].at - attempts[1].at >= 0.9  # 130429: ~1 s backoff
    assert elapsed < 15
    assert [e["status"] for e in detail["status_history"]] == ["sent"]


async def test_window_closed_131047_fails_with_its_code_and_is_not_retried(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    wa_id = random_wa_id()
    fake_graph.fail_for(wa_id, 131047)
    try:
        message_id = await send_template(client, org, wa_id)
        detail = await wait_status(client, org, message_id, "failed", "sent")
        assert (detail["status"], detail["error_code"], detail["wamid"]) == ("failed", 131047, None)
        assert detail["error_title"] == "Re-engagement message"
        assert [(e["status"], e["error_code"]) for e in detail["status_history"]] == [("failed", 131047)]
        await asyncio.sleep(2.5)  # longer than any retry backoff of a retryable error would be
        assert [r.status for r in requests_of(fake_graph, message_id)] == [400]
        assert sends_of(fake_graph, message_id) == []
    finally:
        fake_graph.fail_for(wa_id, None)


async def test_roles_viewer_cannot_send_or_register_agent_can_send(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    viewer = await add_member(client, org.admin, "viewer")
    agent = await add_member(client, org.admin, "agent")
    template = {"to": random_wa_id(), "type": "template", "template_id": "hello_world"}
    assert_error_shape(await client.post(f"{API}/whatsapp/send", headers=viewer.headers, json=template), 403)
    assert_error_shape(await client.post(f"{API}/whatsapp/numbers", headers=viewer.headers, json={
        "phone_number_id": "123456789", "access_token_secret_id": org.secret_id}), 403)
    assert_error_shape(await client.post(f"{API}/whatsapp/numbers", headers=agent.headers, json={
        "phone_number_id": "123456789", "access_token_secret_id": org.secret_id}), 403)
    listed = await client.get(f"{API}/whatsapp/numbers", headers=viewer.headers)
    assert listed.status_code == 200 and [n["id"] for n in listed.json()] == [org.number["id"]]
    response = await client.post(f"{API}/whatsapp/send", headers=agent.headers, json=template)
    assert response.status_code == 202, response.text
    message_id = response.json()["message_id"]
    viewer_read = await client.get(f"{API}/whatsapp/messages/{message_id}", headers=viewer.headers)
    assert viewer_read.status_code == 200
    await wait_status(client, org, message_id, "sent")


async def test_another_organizations_message_is_404(client: httpx.AsyncClient, org: WaOrg) -> None:
    wa_id = random_wa_id()
    message_id = await send_template(client, org, wa_id)
    stranger = await register(client)
    response = await client.get(f"{API}/whatsapp/messages/{message_id}", headers=stranger.headers)
    assert_error_shape(response, 404, "message_not_found")
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    assert_error_shape(await client.get(f"{API}/contacts/{contact['id']}/messages", headers=stranger.headers), 404)
    assert (await client.get(f"{API}/whatsapp/numbers", headers=stranger.headers)).json() == []


async def test_duplicate_number_registration_is_409(client: httpx.AsyncClient, org: WaOrg) -> None:
    again = await client.post(f"{API}/whatsapp/numbers", headers=org.headers, json={
        "phone_number_id": org.phone_number_id, "access_token_secret_id": org.secret_id})
    assert_error_shape(again, 409, "whatsapp_number_already_registered")
