"""An http_request node calling a local app with a vault secret, mapping its JSON into the next message; a secret
reference a contact assembles from answers is sent as text, and a secret in the URL never reaches an error text,
the executions API or the log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.e2e.flows_support import API, edge, node, org_with_number, publish, say, wait_execution, wait_sent
from tests.fake_graph.server import FakeGraphServer, ServedApp
from tests.helpers import add_member

pytestmark = pytest.mark.e2e


class OrdersApi:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

        async def order(request: Request) -> JSONResponse:
            self.calls.append({"path": request.url.path, "query": request.url.query,
                               "authorization": request.headers.get("authorization"), "body": await request.json()})
            if request.headers.get("authorization") != "Bearer s3cr3t-value":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return JSONResponse({"order": {"status": "shipped", "items": [{"sku": "A-1"}]}})

        async def echo(request: Request) -> JSONResponse:
            self.calls.append({"path": request.url.path, "joined": request.headers.get("x-joined"),
                               "body": (await request.body()).decode()})
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/orders/{order_id}", order, methods=["POST"]),
                                     Route("/echo", echo, methods=["POST"])])


@contextmanager
def info_logs() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event of level info and up while the block runs (the tests' own level is WARNING)."""
    saved = structlog.get_config()
    capture = structlog.testing.LogCapture()
    structlog.configure(processors=[capture], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    try:
        yield capture.entries
    finally:
        structlog.configure(**saved)


@pytest.fixture(scope="module")
def orders_api() -> Iterator[tuple[OrdersApi, str]]:
    api = OrdersApi()
    with ServedApp.running(api.app) as served:
        yield api, served.base_url


async def test_http_request_node_with_vault_secret(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                   worker: None, orders_api: tuple[OrdersApi, str]) -> None:
    api, base_url = orders_api
    org = await org_with_number(client, fake_graph)
    secret = await client.post(f"{API}/secrets/", headers=org.admin.headers, json={
        "key": "ORDERS_TOKEN", "value": "s3cr3t-value", "environment": "production"})
    assert secret.status_code == 201, secret.text
    nodes = [
        node("start", "start"),
        node("ask", "question", text="Order number?", variable="order_id", validation="number"),
        node("call", "http_request", method="POST", url=base_url + "/orders/{{order_id}}?src=flow",
             headers={"Authorization": "Bearer {{secret:ORDERS_TOKEN}}"}, body={"asked_by": "{{contact.name}}"},
             timeout_seconds=5, save={"order_status": "$.order.status", "sku": "order.items[0].sku"}),
        node("ok", "end", text="Order {{order_id}} is {{order_status}} ({{sku}})."),
        node("err", "end", text="Could not check: {{http_error}}"),
    ]
    edges = [edge("start", "ask"), edge("ask", "call"), edge("call", "ok", "success"), edge("call", "err", "error")]
    flow = await publish(client, org, nodes, edges, {"type": "keyword", "keywords": ["order"]})
    wa = "5511966660001"
    await say(client, org, wa, "order")
    await wait_sent(fake_graph, org, wa, 1)
    await say(client, org, wa, "123")
    assert await wait_sent(fake_graph, org, wa, 2) == ["Order number?", "Order 123 is shipped (A-1)."]
    assert api.calls[-1] == {"path": "/orders/123", "query": "src=flow", "authorization": "Bearer s3cr3t-value",
                             "body": {"asked_by": "Test User"}}
    [execution] = await wait_execution(client, org, flow["id"], "completed")
    assert execution["variables"]["order_status"] == "shipped"
    assert "s3cr3t" not in str(execution)  # the resolved value is never stored
    usage = await client.get(f"{API}/secrets/{secret.json()['id']}/usage", headers=org.admin.headers)
    assert usage.json()["total_requests"] == 1


async def test_http_request_error_branch_when_the_secret_is_missing(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None,
        orders_api: tuple[OrdersApi, str]) -> None:
    api, base_url = orders_api
    org = await org_with_number(client, fake_graph)
    calls_before = len(api.calls)
    nodes = [node("start", "start"),
             node("call", "http_request", method="POST", url=base_url + "/orders/1",
                  headers={"Authorization": "Bearer {{secret:NOPE}}"}, body={}),
             node("ok", "end", text="ok"), node("err", "end", text="Could not check: {{http_error}}")]
    await publish(client, org, nodes, [edge("start", "call"), edge("call", "ok", "success"),
                                       edge("call", "err", "error")], {"type": "default"})
    await say(client, org, "5511966660002", "hi")
    assert await wait_sent(fake_graph, org, "5511966660002", 1) == [
        "Could not check: secret 'NOPE' was not found in the vault"]
    assert len(api.calls) == calls_before  # never called without its credential


async def test_a_contact_cannot_assemble_a_secret_reference_from_two_answers(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None,
        orders_api: tuple[OrdersApi, str]) -> None:
    """Issue #11: the answers ``x{`` and ``{secret:SOME_KEY}}`` joined by ``{{first}}{{last}}`` are sent as text."""
    api, base_url = orders_api
    org = await org_with_number(client, fake_graph)
    secret = await client.post(f"{API}/secrets/", headers=org.admin.headers, json={
        "key": "SOME_KEY", "value": "canary-some-key-91c3", "environment": "production"})
    assert secret.status_code == 201, secret.text
    nodes = [node("start", "start"), node("q1", "question", text="First?", variable="first"),
             node("q2", "question", text="Last?", variable="last"),
             node("call", "http_request", method="POST", url=base_url + "/echo",
                  headers={"X-Joined": "{{first}}{{last}}"}, body="{{first}}{{last}}", timeout_seconds=5),
             node("ok", "end", text="sent"), node("err", "end", text="error {{http_error}}")]
    edges = [edge("start", "q1"), edge("q1", "q2"), edge("q2", "call"), edge("call", "ok", "success"),
             edge("call", "err", "error")]
    flow = await publish(client, org, nodes, edges, {"type": "keyword", "keywords": ["join"]})
    wa = "5511966660003"
    await say(client, org, wa, "join")
    await wait_sent(fake_graph, org, wa, 1)
    await say(client, org, wa, "x{")
    await wait_sent(fake_graph, org, wa, 2)
    await say(client, org, wa, "{secret:SOME_KEY}}")
    assert (await wait_sent(fake_graph, org, wa, 3))[-1] == "sent"
    assert api.calls[-1] == {"path": "/echo", "joined": "x{{secret:SOME_KEY}}", "body": "x{{secret:SOME_KEY}}"}
    await wait_execution(client, org, flow["id"], "completed")
    usage = await client.get(f"{API}/secrets/{secret.json()['id']}/usage", headers=org.admin.headers)
    assert usage.json()["total_requests"] == 0  # never resolved


async def test_a_secret_in_the_url_never_reaches_the_error_the_executions_or_the_log(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    viewer = await add_member(client, org.admin, "viewer")
    canary = "canaryhost-5d2e7"
    secret = await client.post(f"{API}/secrets/", headers=org.admin.headers, json={
        "key": "HOST", "value": canary, "environment": "production"})
    assert secret.status_code == 201, secret.text
    nodes = [node("start", "start"),
             node("call", "http_request", method="GET", url="https://{{secret:HOST}}.invalid/api", timeout_seconds=3),
             node("ok", "end", text="ok"), node("err", "end", text="Could not call: {{http_error}}")]
    flow = await publish(client, org, nodes, [edge("start", "call"), edge("call", "ok", "success"),
                                              edge("call", "err", "error")], {"type": "default"})
    wa = "5511966660004"
    with info_logs() as logs:
        await say(client, org, wa, "hi")
        [shown] = await wait_sent(fake_graph, org, wa, 1)
    assert shown.startswith("Could not call: ") and canary not in shown.lower()
    [execution] = await wait_execution(client, org, flow["id"], "completed")
    listed = await client.get(f"{API}/flows/{flow['id']}/executions", headers=viewer.headers)
    assert listed.status_code == 200 and listed.json()[0]["variables"]["http_error"] == shown.removeprefix(
        "Could not call: ")
    assert canary not in listed.text.lower() and canary not in str(execution).lower()
    failed = [entry for entry in logs if entry.get("event") == "flow.http_failed"]
    assert failed and canary not in str(logs).lower()
    usage = await client.get(f"{API}/secrets/{secret.json()['id']}/usage", headers=org.admin.headers)
    assert usage.json()["total_requests"] == 1  # it was resolved, and used, but never shown
