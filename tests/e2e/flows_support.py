"""Helpers of the flow e2e suites: an organization with a WhatsApp number, signed inbound messages, and what
the fake Graph server received for one number."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tests.conftest import APP_SECRET
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fake_graph.state import AcceptedSend
from tests.helpers import Account, register

API = "/api/v1"


@dataclass
class Org:
    admin: Account
    phone_number_id: str
    number_id: str


async def org_with_number(client: httpx.AsyncClient, fake_graph: FakeGraphServer) -> Org:
    admin = await register(client)
    pnid = str(random.randint(10**14, 10**15 - 1))
    token = f"token-{pnid}"
    fake_graph.add_number(pnid, token)
    secret = await client.post(f"{API}/secrets/", headers=admin.headers,
                               json={"key": f"WA_TOKEN_{pnid}", "value": token, "service": "whatsapp"})
    assert secret.status_code == 201, secret.text
    number = await client.post(f"{API}/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": pnid, "access_token_secret_id": secret.json()["id"]})
    assert number.status_code == 201, number.text
    return Org(admin=admin, phone_number_id=pnid, number_id=number.json()["id"])


async def deliver(client: httpx.AsyncClient, payload: dict[str, Any] | bytes) -> None:
    body = builders.webhook_body(payload)
    response = await client.post(f"{API}/whatsapp/webhook", content=body, headers={
        "X-Hub-Signature-256": builders.sign(APP_SECRET, body), "content-type": "application/json"})
    assert response.status_code == 200, response.text


async def say(client: httpx.AsyncClient, org: Org, wa_id: str, text: str, **options: Any) -> None:
    await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, text, **options))


async def tap(client: httpx.AsyncClient, org: Org, wa_id: str, button_id: str, title: str) -> None:
    await deliver(client, builders.inbound_button_reply(org.phone_number_id, wa_id, button_id, title))


def sent(fake_graph: FakeGraphServer, org: Org, wa_id: str) -> list[AcceptedSend]:
    return [s for s in fake_graph.sent_messages if s.phone_number_id == org.phone_number_id and s.recipient == wa_id]


def shown(item: AcceptedSend) -> Any:
    """What the contact sees: a text's body, or (text, [(id, title)...]) of reply buttons, or the raw content."""
    if item.type == "text":
        return item.content["body"]
    if item.type == "interactive" and item.content["type"] == "button":
        return (item.content["body"]["text"],
                [(b["reply"]["id"], b["reply"]["title"]) for b in item.content["action"]["buttons"]])
    return item.content


async def wait_sent(fake_graph: FakeGraphServer, org: Org, wa_id: str, count: int,
                    timeout: float = 15.0) -> list[Any]:
    """Block until ``count`` messages reached the fake for this contact; return what they show."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = sent(fake_graph, org, wa_id)
        if len(items) >= count:
            return [shown(i) for i in items]
        await asyncio.sleep(0.05)
    raise AssertionError(f"expected {count} messages, got {[shown(i) for i in sent(fake_graph, org, wa_id)]}")


async def settle(fake_graph: FakeGraphServer, org: Org, wa_id: str, seconds: float = 1.0) -> list[Any]:
    """What the contact has received after ``seconds`` of quiet (to assert nothing more arrives)."""
    await asyncio.sleep(seconds)
    return [shown(i) for i in sent(fake_graph, org, wa_id)]


async def publish(client: httpx.AsyncClient, org: Org, nodes: list[dict[str, Any]], edges: list[dict[str, Any]],
                  trigger: dict[str, Any] | None, name: str = "Flow") -> dict[str, Any]:
    created = await client.post(f"{API}/flows", headers=org.admin.headers,
                                json={"name": name, "nodes": nodes, "edges": edges, "trigger": trigger})
    assert created.status_code == 201, created.text
    published = await client.put(f"{API}/flows/{created.json()['id']}", headers=org.admin.headers,
                                 json={"status": "active"})
    assert published.status_code == 200, published.text
    return dict(published.json())


async def executions(client: httpx.AsyncClient, org: Org, flow_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/flows/{flow_id}/executions", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def wait_execution(client: httpx.AsyncClient, org: Org, flow_id: str, status: str,
                         timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = await executions(client, org, flow_id)
        if found and found[0]["status"] == status:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no execution reached {status}: {found}")


def node(node_id: str, kind: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": kind, "position": {"x": 0, "y": 0}, "data": data}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    item = {"id": f"{source}-{handle or 'next'}-{target}", "source": source, "target": target}
    if handle is not None:
        item["sourceHandle"] = handle
    return item
