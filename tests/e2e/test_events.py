"""GET /events end to end over a real socket: tickets, each producer through the real pipeline (webhook ->
worker -> event on the stream), Last-Event-ID replay, reset after retention, tenancy."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from adapters.clock import SystemClock
from application.use_cases.events.purge_events import PurgeEvents
from entrypoints.runtime import provide
from tests.e2e.events_support import API, listen, served, ticket
from tests.e2e.flows_support import edge, node, publish, say
from tests.e2e.flows_support import org_with_number as flow_org
from tests.e2e.whatsapp_support import (
    WaOrg,
    deliver,
    fetch,
    org_with_number,
    random_wa_id,
    send,
    wait_status,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def base(app: FastAPI) -> AsyncIterator[str]:
    async with served(app) as url:
        yield url


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def rotate(client: httpx.AsyncClient, org: WaOrg, value: str | None = None) -> None:
    """A re-key (no value: repeatable), or a new value (then the secret waits for a test or activation)."""
    body = {"value": value} if value is not None else {}
    response = await client.post(f"{API}/secrets/{org.secret_id}/rotate", headers=org.headers, json=body)
    assert response.status_code == 200, response.text


# --- tickets --------------------------------------------------------------------------------------------------


async def test_a_ticket_opens_one_stream_once_and_is_stored_hashed(
        client: httpx.AsyncClient, base: str, database_url: str) -> None:
    admin = await register(client)
    viewer = await add_member(client, admin, "viewer")  # any role may listen
    issued = await client.post(f"{API}/events/ticket", headers=viewer.headers)
    assert issued.status_code == 201, issued.text
    assert set(issued.json()) == {"ticket", "expires_at"}
    value = issued.json()["ticket"]
    stored = await fetch(database_url, "SELECT token_hash, expires_at - created_at AS ttl FROM event_tickets "
                                       "WHERE user_id = $1", viewer.user["id"])
    assert [r["token_hash"] for r in stored] == [hashlib.sha256(value.encode()).hexdigest()]
    assert stored[0]["ttl"] == timedelta(seconds=60)

    async with listen(base, ticket=value):
        pass
    async with httpx.AsyncClient(base_url=base) as raw:
        again = await raw.get(f"{API}/events", params={"ticket": value})
        assert_error_shape(again, 401, "invalid_ticket")
        assert value not in again.text


async def test_an_expired_or_unknown_ticket_or_no_credentials_is_401(
        client: httpx.AsyncClient, base: str, database_url: str) -> None:
    admin = await register(client)
    value = await ticket(client, admin.headers)
    await fetch(database_url, "UPDATE event_tickets SET expires_at = now() - interval '1 second' "
                              "WHERE token_hash = $1", hashlib.sha256(value.encode()).hexdigest())
    async with httpx.AsyncClient(base_url=base) as raw:
        assert_error_shape(await raw.get(f"{API}/events", params={"ticket": value}), 401, "invalid_ticket")
        assert_error_shape(await raw.get(f"{API}/events", params={"ticket": "x" * 43}), 401, "invalid_ticket")
        assert_error_shape(await raw.get(f"{API}/events"), 401, "not_authenticated")
        # an access token is never taken from a URL
        assert_error_shape(await raw.get(f"{API}/events", params={"access_token": admin.access_token}), 401)
        assert_error_shape(await raw.post(f"{API}/events/ticket"), 401)
        bad = await raw.get(f"{API}/events", headers={**admin.headers, "Last-Event-ID": "yesterday"})
        assert_error_shape(bad, 422)


# --- producers through the real pipeline ----------------------------------------------------------------------


async def test_inbound_message_conversation_and_statuses_reach_the_stream(
        client: httpx.AsyncClient, base: str, org: WaOrg) -> None:
    async with listen(base, ticket=await ticket(client, org.headers)) as stream:
        wa_id = random_wa_id()
        await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "Do you have it in blue? " * 10))
        received = await stream.event("message.received")
        assert received["type"] == "text" and received["number_id"] == org.number["id"]
        assert received["preview"].startswith("Do you have it in blue?") and len(received["preview"]) <= 80
        conversation = await stream.event("conversation.updated", reason="inbound")
        assert conversation["contact_id"] == received["contact_id"] and conversation["handed_off"] is False

        response = await send(client, org, wa_id, message="Yes, in blue too!")
        assert response.status_code == 202, response.text
        message_id = response.json()["message_id"]
        sent = await stream.event("message.status", message_id=message_id, status="sent")
        detail = await wait_status(client, org, message_id, "sent")
        await deliver(client, builders.status_update(org.phone_number_id, detail["wamid"], "delivered", wa_id))
        delivered = await stream.event("message.status", message_id=message_id, status="delivered")
        assert received["id"] < conversation["id"] < sent["id"] < delivered["id"]
        assert stream.ids == sorted(stream.ids)


async def test_flow_finish_handoff_and_release_reach_the_stream(
        client: httpx.AsyncClient, base: str, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await flow_org(client, fake_graph)
    done = await publish(client, org, [node("start", "start"), node("bye", "end", text="Bye!")],
                         [edge("start", "bye")], {"type": "keyword", "keywords": ["bye"]}, name="Bye")
    await publish(client, org, [node("start", "start"), node("agent", "handoff", text="An agent will help.")],
                  [edge("start", "agent")], {"type": "keyword", "keywords": ["agent"]}, name="Agent")
    async with listen(base, ticket=await ticket(client, org.admin.headers)) as stream:
        await say(client, org, "5511977770001", "bye")
        finished = await stream.event("flow_execution.finished", flow_id=done["id"])
        assert finished["status"] == "completed" and finished["fail_reason"] is None

        await say(client, org, "5511977770002", "agent")
        handed = await stream.event("conversation.updated", reason="handoff")
        assert handed["handed_off"] is True and handed["state"] == "waiting"
        released = await client.post(f"{API}/contacts/{handed['contact_id']}/release", headers=org.admin.headers)
        assert released.status_code == 200, released.text
        back = await stream.event("conversation.updated", reason="closed")  # release closes it
        assert back["contact_id"] == handed["contact_id"] and back["handed_off"] is False
        assert back["state"] == "closed"


async def test_secret_rotation_is_told_without_the_value(
        client: httpx.AsyncClient, base: str, org: WaOrg) -> None:
    async with listen(base, token=org.admin.access_token) as stream:  # the header, for non-browser clients
        await rotate(client, org, "EAAG-new-token-value-0123456789")
        rotated = await stream.event("secret.rotated", secret_id=org.secret_id)
        assert rotated["kind"] == "value" and rotated["key"] == "WA_TOKEN" and rotated["version"] == 2
        assert all("EAAG-new-token-value" not in e.data for e in stream.seen)


# --- resume, reset, tenancy -----------------------------------------------------------------------------------


async def test_last_event_id_replays_what_was_missed(client: httpx.AsyncClient, base: str, org: WaOrg) -> None:
    async with listen(base, ticket=await ticket(client, org.headers)) as stream:
        await rotate(client, org)
        first = await stream.event("secret.rotated")
    for _ in range(3):  # while nobody listens
        await rotate(client, org)
    async with listen(base, ticket=await ticket(client, org.headers), last_event_id=first["id"]) as stream:
        await stream.wait_for(lambda e: len(stream.of_type("secret.rotated")) == 3)
        assert [e["version"] for e in stream.of_type("secret.rotated")] == [3, 4, 5]
        assert min(stream.ids) > first["id"]
    # a new EventSource cannot set the header: the query parameter does the same
    async with listen(base, ticket=await ticket(client, org.headers), query_last_event_id=first["id"]) as stream:
        await stream.wait_for(lambda e: len(stream.of_type("secret.rotated")) == 3)
        await rotate(client, org)
        live = await stream.event("secret.rotated", version=6)
        assert stream.ids == sorted(stream.ids) and live["id"] == max(stream.ids)


async def test_a_resume_point_past_the_retention_gets_a_reset(
        client: httpx.AsyncClient, base: str, org: WaOrg, app: FastAPI) -> None:
    async with listen(base, ticket=await ticket(client, org.headers)) as stream:
        await rotate(client, org)
        old = await stream.event("secret.rotated")
    await rotate(client, org)
    purge = PurgeEvents(uow=await provide(app.state.container.uow), clock=SystemClock(), retention=timedelta(0))
    assert await purge.execute() >= 2
    async with listen(base, ticket=await ticket(client, org.headers), last_event_id=old["id"]) as stream:
        reset = await stream.wait_for(lambda e: e.event == "reset")
        assert stream.seen[0] is reset and int(reset.id) > old["id"] and json.loads(reset.data) == {"id": int(reset.id)}
        await rotate(client, org)
        after = await stream.event("secret.rotated", version=4)
        assert after["id"] > int(reset.id)
    async with listen(base, ticket=await ticket(client, org.headers), last_event_id=10**15) as stream:
        await stream.wait_for(lambda e: e.event == "reset")  # an id this organization never had


async def test_an_organization_never_sees_another_ones_events(
        client: httpx.AsyncClient, base: str, fake_graph: FakeGraphServer, worker: None) -> None:
    a = await org_with_number(client, fake_graph)
    b = await org_with_number(client, fake_graph)
    async with listen(base, ticket=await ticket(client, a.headers)) as stream_a, \
            listen(base, ticket=await ticket(client, b.headers)) as stream_b, \
            listen(base, token=b.admin.access_token, last_event_id=0) as replay_b:
        await deliver(client, builders.inbound_text(a.phone_number_id, random_wa_id(), "for A only"))
        await rotate(client, a)
        await rotate(client, b)
        await stream_a.event("message.received")
        await stream_a.event("secret.rotated", secret_id=a.secret_id)
        await stream_b.event("secret.rotated", secret_id=b.secret_id)
        await replay_b.event("secret.rotated", secret_id=b.secret_id)
        for seen in (stream_b.seen, replay_b.seen):
            assert not any(e.event == "message.received" for e in seen)
            assert not any(a.secret_id in e.data for e in seen)
        assert not any(b.secret_id in e.data for e in stream_a.seen)


async def test_automation_progress_reaches_the_stream_throttled_and_ends_completed(
        client: httpx.AsyncClient, base: str, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    from tests.e2e.test_automations_api import active_flow, create

    flow = await active_flow(client, org)
    contacts = [{"whatsapp_id": random_wa_id(), "variables": {"first": f"N{n}"}} for n in range(5)]
    created = await create(client, org.headers, flow["id"], contacts, rate_per_second=50)
    assert created.status_code == 201, created.text
    automation_id = created.json()["id"]
    async with listen(base, ticket=await ticket(client, org.headers)) as stream:
        started = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=org.headers)
        assert started.status_code == 200, started.text
        # the opening templates are sent by the worker through the fake Graph API; their 'sent' completes it
        done = await stream.event("automation.progress", timeout=30, automation_id=automation_id, status="completed")
        assert done["counts"]["total"] == 5 and done["counts"]["accepted"] == 5 and done["counts"]["pending"] == 0
        progress = stream.of_type("automation.progress")
        assert len(progress) <= 12  # throttled: far fewer than the recipients' 15+ state changes
        assert all(p["automation_id"] == automation_id for p in progress)


async def test_a_client_that_hangs_up_leaves_nothing_behind(client: httpx.AsyncClient, base: str,
                                                            app: FastAPI) -> None:
    import asyncio

    hub = await provide(app.state.container.event_hub)
    before = hub.streams
    admin = await register(client)
    async with listen(base, ticket=await ticket(client, admin.headers)), \
            listen(base, token=admin.access_token):
        assert hub.streams == before + 2
    for _ in range(100):
        if hub.streams == before:
            break
        await asyncio.sleep(0.05)
    assert hub.streams == before


async def test_the_stream_and_its_ticket_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()
    stream = spec["paths"][f"{API}/events"]["get"]
    assert set(stream["responses"]["200"]["content"]) == {"text/event-stream"}
    assert {"401", "422", "503"} <= set(stream["responses"])
    assert {p["name"] for p in stream["parameters"]} >= {"ticket", "last_event_id", "last-event-id"}
    assert "message.received" in stream["description"] and "reset" in stream["description"]
    ticket_op = spec["paths"][f"{API}/events/ticket"]["post"]
    schema = ticket_op["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(spec["components"]["schemas"][schema]["properties"]) == {"ticket", "expires_at"}
