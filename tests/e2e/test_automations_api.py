"""Flow automations over HTTP without the worker: validation, roles, tenancy and the recipients listing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.flows_support import API, edge, node, publish
from tests.e2e.whatsapp_support import WaOrg, org_with_number, random_wa_id
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import add_member

pytestmark = pytest.mark.e2e

TEMPLATE = {"name": "promo", "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}
SINGLE_ROUTES = ["", "/stats", "/recipients"]
CONTROL_ROUTES = ["/start", "/pause", "/resume", "/cancel"]


async def active_flow(client: httpx.AsyncClient, org: WaOrg) -> dict[str, Any]:
    return await publish(client, org, [node("start", "start"), node("hi", "message", text="Hi {{first}}")],  # type: ignore[arg-type]
                         [edge("start", "hi")], None, name=f"Campaign {uuid.uuid4().hex[:6]}")


async def create(client: httpx.AsyncClient, headers: dict[str, str], flow_id: str, contacts: list[Any],
                 **config: Any) -> httpx.Response:
    config.setdefault("template", TEMPLATE)
    return await client.post(f"{API}/flow-automations", headers=headers,
                             json={"flow_id": flow_id, "contacts": contacts, "config": config})


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def test_create_returns_the_automation_contract(client: httpx.AsyncClient, org: WaOrg) -> None:
    flow = await active_flow(client, org)
    a, b = random_wa_id(), random_wa_id()
    response = await create(client, org.headers, flow["id"], [
        {"whatsapp_id": a, "name": "Ana", "variables": {"first": "Ana"}}, {"whatsapp_id": b}, {"whatsapp_id": a}],
        rate_per_second=500, variables={"first": "friend"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) >= {"id", "flow_id", "status", "config", "total_contacts", "created_at", "updated_at",
                         "started_at", "finished_at"}
    assert (body["flow_id"], body["status"], body["total_contacts"], body["started_at"], body["finished_at"]) == (
        flow["id"], "draft", 2, None, None)
    assert body["config"]["rate_per_second"] == 80  # capped at the number's throughput (STANDARD)
    assert body["config"]["from_number_id"] == org.number["id"]
    assert body["config"]["variables"] == {"first": "friend"} and body["config"]["template"] == TEMPLATE
    got = await client.get(f"{API}/flow-automations/{body['id']}", headers=org.headers)
    assert got.status_code == 200 and got.json() == body
    listed = await client.get(f"{API}/flow-automations", headers=org.headers)
    assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [body["id"]]
    assert listed.headers["x-total-count"] == "1"
    stats = (await client.get(f"{API}/flow-automations/{body['id']}/stats", headers=org.headers)).json()
    assert stats == {"automation_id": body["id"], "status": "draft", "total": 2, "pending": 2, "sent": 0,
                     "delivered": 0, "read": 0, "replied": 0, "completed": 0, "failed": 0, "skipped": 0,
                     "started_at": None, "finished_at": None, "messages_per_second": 0.0, "paused_reason": None,
                     "phase": "draft", "dispatched": 0, "accepted": 0, "dispatched_per_second": 0.0,
                     "dispatch_finished_at": None}


async def test_create_errors(client: httpx.AsyncClient, org: WaOrg) -> None:
    flow = await active_flow(client, org)
    no_template = await create(client, org.headers, flow["id"], [{"whatsapp_id": random_wa_id()}], template=None)
    assert no_template.status_code == 400 and no_template.json()["error_code"] == "template_required"
    unknown = str(uuid.uuid4())
    missing = await create(client, org.headers, flow["id"], [unknown])
    assert missing.status_code == 404 and missing.json()["error_code"] == "contact_not_found"
    assert unknown in missing.json()["detail"]
    draft = await client.post(f"{API}/flows", headers=org.headers, json={
        "name": "Draft", "nodes": [node("start", "start")], "edges": [], "trigger": None})
    inactive = await create(client, org.headers, draft.json()["id"], [{"whatsapp_id": random_wa_id()}])
    assert inactive.status_code == 409 and inactive.json()["error_code"] == "flow_not_active"
    for bad in ({"rate_per_second": 0}, {"rate_per_second": 1001}, {"template": {"name": "Bad Name!"}}):
        response = await create(client, org.headers, flow["id"], [{"whatsapp_id": random_wa_id()}], **bad)
        assert response.status_code == 422, (bad, response.text)
    empty = await create(client, org.headers, flow["id"], [])
    assert empty.status_code == 422
    listed = await client.get(f"{API}/flow-automations", headers=org.headers)
    assert listed.json() == [] and listed.headers["x-total-count"] == "0"


async def test_roles(client: httpx.AsyncClient, org: WaOrg) -> None:
    flow = await active_flow(client, org)
    viewer, agent = await add_member(client, org.admin, "viewer"), await add_member(client, org.admin, "agent")
    contacts = [{"whatsapp_id": random_wa_id()}]
    for member in (viewer, agent):
        refused = await create(client, member.headers, flow["id"], contacts)
        assert refused.status_code == 403 and refused.json()["error_code"] == "permission_denied"
    created = await create(client, org.headers, flow["id"], contacts, schedule_at="2099-01-01T00:00:00Z")
    automation_id = created.json()["id"]
    for member in (viewer, agent):
        for route in CONTROL_ROUTES:
            refused = await client.post(f"{API}/flow-automations/{automation_id}{route}", headers=member.headers)
            assert refused.status_code == 403, (route, refused.text)
        for route in SINGLE_ROUTES:
            allowed = await client.get(f"{API}/flow-automations/{automation_id}{route}", headers=member.headers)
            assert allowed.status_code == 200, (route, allowed.text)
    stats = await client.get(f"{API}/flow-automations/{automation_id}/stats", headers=viewer.headers)
    assert (stats.json()["status"], stats.json()["total"]) == ("draft", 1)
    assert (await client.get(f"{API}/flow-automations", headers=viewer.headers)).status_code == 200
    started = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=org.headers)
    assert started.status_code == 200 and started.json() == {"status": "started"}
    again = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=org.headers)
    assert again.status_code == 409 and again.json()["error_code"] == "automation_already_started"
    detail = (await client.get(f"{API}/flow-automations/{automation_id}", headers=viewer.headers)).json()
    assert (detail["status"], detail["started_at"]) == ("scheduled", None)  # schedule_at is in 2099
    cancelled = await client.post(f"{API}/flow-automations/{automation_id}/cancel", headers=org.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    for route in CONTROL_ROUTES:  # nothing more to do with a cancelled automation
        refused = await client.post(f"{API}/flow-automations/{automation_id}{route}", headers=org.headers)
        assert refused.status_code == 409, (route, refused.text)


async def test_another_organizations_automation_is_404_on_every_route(client: httpx.AsyncClient,
                                                                        fake_graph: FakeGraphServer,
                                                                        org: WaOrg) -> None:
    flow = await active_flow(client, org)
    created = await create(client, org.headers, flow["id"], [{"whatsapp_id": random_wa_id()}])
    automation_id = created.json()["id"]
    other = await org_with_number(client, fake_graph)
    for route in SINGLE_ROUTES:
        response = await client.get(f"{API}/flow-automations/{automation_id}{route}", headers=other.headers)
        assert response.status_code == 404 and response.json()["error_code"] == "automation_not_found", route
    for route in CONTROL_ROUTES:
        response = await client.post(f"{API}/flow-automations/{automation_id}{route}", headers=other.headers)
        assert response.status_code == 404 and response.json()["error_code"] == "automation_not_found", route
    listed = await client.get(f"{API}/flow-automations", headers=other.headers)
    assert listed.json() == [] and listed.headers["x-total-count"] == "0"
    # and another organization's flow or contacts cannot be used either
    foreign_flow = await create(client, other.headers, flow["id"], [{"whatsapp_id": random_wa_id()}])
    assert foreign_flow.status_code == 404
    contact = await client.post(f"{API}/contacts", headers=org.headers, json={"whatsapp_id": random_wa_id()})
    other_flow = await active_flow(client, other)
    foreign_contact = await create(client, other.headers, other_flow["id"], [contact.json()["id"]])
    assert foreign_contact.status_code == 404 and foreign_contact.json()["error_code"] == "contact_not_found"
    detail = await client.get(f"{API}/flow-automations/{automation_id}", headers=org.headers)
    assert detail.json()["status"] == "draft"


async def test_recipients_pagination_state_filter_and_total(client: httpx.AsyncClient, org: WaOrg) -> None:
    flow = await active_flow(client, org)
    opted_out = []
    for _ in range(3):
        response = await client.post(f"{API}/contacts", headers=org.headers,
                                     json={"whatsapp_id": random_wa_id(), "opted_out": True})
        assert response.status_code == 201, response.text
        opted_out.append(response.json())
    fresh = [random_wa_id() for _ in range(7)]
    contacts: list[Any] = [{"whatsapp_id": w, "variables": {"first": f"N{i}"}} for i, w in enumerate(fresh)]
    contacts[2:2] = [c["id"] for c in opted_out]  # seq 2, 3, 4
    created = await create(client, org.headers, flow["id"], contacts)
    assert created.status_code == 201 and created.json()["total_contacts"] == 10
    url = f"{API}/flow-automations/{created.json()['id']}/recipients"

    page = await client.get(url, headers=org.headers, params={"limit": 4, "offset": 3})
    assert page.status_code == 200 and page.headers["x-total-count"] == "10"
    order = [*fresh[:2], *(c["whatsapp_id"] for c in opted_out), *fresh[2:]]
    assert [r["whatsapp_id"] for r in page.json()] == order[3:7]
    everyone = (await client.get(url, headers=org.headers, params={"limit": 200})).json()
    assert [r["whatsapp_id"] for r in everyone] == order
    assert everyone[0]["variables"] == {"first": "N0"} and everyone[0]["state"] == "pending"
    assert set(everyone[0]) >= {"id", "contact_id", "whatsapp_id", "state", "message_id", "execution_id",
                                "dispatched_at", "error_code", "error_title", "skip_reason", "variables",
                                "updated_at"}

    skipped = await client.get(url, headers=org.headers, params={"state": "skipped", "limit": 2})
    assert skipped.headers["x-total-count"] == "3"
    assert [(r["whatsapp_id"], r["state"], r["skip_reason"]) for r in skipped.json()] == [
        (c["whatsapp_id"], "skipped", "opted_out") for c in opted_out[:2]]
    rest = await client.get(url, headers=org.headers, params={"state": "skipped", "limit": 2, "offset": 2})
    assert [r["contact_id"] for r in rest.json()] == [opted_out[2]["id"]] and rest.headers["x-total-count"] == "3"
    pending = await client.get(url, headers=org.headers, params={"state": "pending"})
    assert [r["whatsapp_id"] for r in pending.json()] == fresh and pending.headers["x-total-count"] == "7"
    none = await client.get(url, headers=org.headers, params={"state": "failed"})
    assert none.json() == [] and none.headers["x-total-count"] == "0"
    past_end = await client.get(url, headers=org.headers, params={"offset": 50})
    assert past_end.json() == [] and past_end.headers["x-total-count"] == "10"
    bad = await client.get(url, headers=org.headers, params={"state": "lost"})
    assert bad.status_code == 422
    stats = (await client.get(f"{API}/flow-automations/{created.json()['id']}/stats", headers=org.headers)).json()
    assert (stats["total"], stats["pending"], stats["skipped"]) == (10, 7, 3)
