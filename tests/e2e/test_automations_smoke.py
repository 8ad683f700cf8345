"""Flow automations end to end: template opening, replies starting the flow, stats and recipients."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.flows_support import API, edge, node, org_with_number, publish, say, sent
from tests.fake_graph.server import FakeGraphServer

pytestmark = pytest.mark.e2e


async def _stats(client: httpx.AsyncClient, headers: dict[str, str], automation_id: str) -> dict:  # type: ignore[type-arg]
    response = await client.get(f"{API}/flow-automations/{automation_id}/stats", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _wait(client: httpx.AsyncClient, headers: dict[str, str], automation_id: str, predicate, timeout: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    stats: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        stats = await _stats(client, headers, automation_id)
        if predicate(stats):
            return stats
        await asyncio.sleep(0.1)
    raise AssertionError(stats)


async def test_template_campaign_then_replies_start_the_flow(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                             worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    flow = await publish(client, org, [node("start", "start"), node("hi", "message", text="Thanks {{first}}!")],
                         [edge("start", "hi")], None, name="Campaign flow")
    contacts = [{"whatsapp_id": f"55119{n:08d}", "variables": {"first": f"C{n}"}} for n in range(1, 4)]
    contacts.append(contacts[0])  # a duplicate is collapsed
    created = await client.post(f"{API}/flow-automations", headers=org.admin.headers, json={
        "flow_id": flow["id"], "contacts": contacts,
        "config": {"rate_per_second": 10, "template": {"name": "promo", "language": "pt_BR", "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}}})
    assert created.status_code == 201, created.text
    automation = created.json()
    assert automation["status"] == "draft" and automation["total_contacts"] == 3
    started = await client.post(f"{API}/flow-automations/{automation['id']}/start", headers=org.admin.headers)
    assert started.status_code == 200 and started.json() == {"status": "started"}
    again = await client.post(f"{API}/flow-automations/{automation['id']}/start", headers=org.admin.headers)
    assert again.status_code == 409 and again.json()["error_code"] == "automation_already_started"
    stats = await _wait(client, org.admin.headers, automation["id"], lambda s: s["sent"] == 3)
    assert stats["status"] == "completed" and stats["pending"] == 0 and stats["total"] == 3
    opening = [s for s in fake_graph.sent_messages if s.phone_number_id == org.phone_number_id]
    assert sorted(s.body["template"]["components"][0]["parameters"][0]["text"] for s in opening) == ["C1", "C2", "C3"]
    await say(client, org, "5511900000001", "yes please")
    await _wait(client, org.admin.headers, automation["id"], lambda s: s["completed"] == 1)
    thanks = [s for s in sent(fake_graph, org, "5511900000001") if s.type == "text"]
    for _ in range(50):
        if thanks:
            break
        await asyncio.sleep(0.1)
        thanks = [s for s in sent(fake_graph, org, "5511900000001") if s.type == "text"]
    assert [s.body["text"]["body"] for s in thanks] == ["Thanks C1!"]
    recipients = await client.get(f"{API}/flow-automations/{automation['id']}/recipients", headers=org.admin.headers,
                                  params={"state": "completed"})
    assert [r["whatsapp_id"] for r in recipients.json()] == ["5511900000001"]
