"""The /flows endpoints: CRUD, publishing validation, roles, tenancy, delete rules and the simulator."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.flows_support import API, edge, node, org_with_number, publish, say, wait_execution, wait_sent
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

FLOW_FIELDS = {"id", "name", "description", "status", "nodes", "edges", "stats", "organization_id", "created_at",
               "updated_at", "trigger", "published_version"}
NODES = [node("start", "start"), node("hello", "message", text="Hello {{contact.name}}")]
EDGES = [edge("start", "hello")]


async def test_crud_and_publishing(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    created = await client.post(f"{API}/flows", headers=admin.headers, json={
        "name": "Welcome", "description": "greets", "nodes": NODES, "edges": EDGES})
    assert created.status_code == 201, created.text
    flow = created.json()
    assert set(flow) == FLOW_FIELDS
    assert flow["status"] == "draft" and flow["published_version"] is None and flow["trigger"] is None
    assert flow["nodes"] == NODES and flow["organization_id"] == admin.organization_id
    assert flow["edges"] == [{**e, "sourceHandle": None, "targetHandle": None} for e in EDGES]
    assert flow["stats"] == {"total_executions": 0, "success_rate": 0.0, "avg_duration_ms": None, "drop_off": []}

    listed = await client.get(f"{API}/flows", headers=admin.headers, params={"limit": 1})
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert [f["id"] for f in listed.json()] == [flow["id"]]

    updated = await client.put(f"{API}/flows/{flow['id']}", headers=admin.headers, json={
        "name": "Welcome 2", "status": "active", "trigger": {"type": "keyword", "keywords": ["hi", "Olá"]}})
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert (body["name"], body["status"], body["published_version"]) == ("Welcome 2", "active", 1)
    assert body["trigger"] == {"type": "keyword", "keywords": ["hi", "Olá"]} and body["description"] == "greets"
    again = await client.put(f"{API}/flows/{flow['id']}", headers=admin.headers, json={"description": None})
    assert again.json()["published_version"] == 1 and again.json()["description"] is None  # same graph: no version
    got = await client.get(f"{API}/flows/{flow['id']}", headers=admin.headers)
    assert got.status_code == 200 and got.json()["name"] == "Welcome 2"

    assert (await client.delete(f"{API}/flows/{flow['id']}", headers=admin.headers)).status_code == 204
    assert_error_shape(await client.get(f"{API}/flows/{flow['id']}", headers=admin.headers), 404, "flow_not_found")


async def test_publishing_an_invalid_graph_lists_every_problem(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    nodes = [node("a", "start"), node("b", "start"), node("q", "question", text="?"),
             node("x", "teleport"), node("btn", "buttons", text="pick", buttons=[
                 {"id": "1", "title": "A title longer than twenty"}]), node("lost", "message", text="alone")]
    edges = [edge("a", "q"), edge("q", "ghost"), edge("a", "btn", "nope")]
    created = await client.post(f"{API}/flows", headers=admin.headers, json={"name": "Bad", "nodes": nodes,
                                                                             "edges": edges})
    assert created.status_code == 201, created.text  # drafts may be incomplete
    response = await client.put(f"{API}/flows/{created.json()['id']}", headers=admin.headers,
                                json={"status": "active"})
    body = assert_error_shape(response, 400, "invalid_flow")
    assert body["errors"] == [
        {"node_id": "q", "edge_id": None, "problem": "'variable' is required"},
        {"node_id": "x", "edge_id": None, "problem": "unknown node type 'teleport'"},
        {"node_id": "btn", "edge_id": None, "problem": "'buttons[0].title' must be at most 20 characters"},
        {"node_id": "a", "edge_id": None, "problem": "the flow has 2 start nodes; exactly one is required"},
        {"node_id": "b", "edge_id": None, "problem": "the flow has 2 start nodes; exactly one is required"},
        {"node_id": None, "edge_id": "q-next-ghost", "problem": "target node 'ghost' not found"},
        {"node_id": "a", "edge_id": "a-nope-btn", "problem": "source handle 'nope' does not exist (valid: (default))"},
        {"node_id": "x", "edge_id": None, "problem": "the node is not reachable from the start node"},
        {"node_id": "lost", "edge_id": None, "problem": "the node is not reachable from the start node"},
    ]
    still = await client.get(f"{API}/flows/{created.json()['id']}", headers=admin.headers)
    assert still.json()["status"] == "draft" and still.json()["published_version"] is None


async def test_roles_and_tenancy(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    flow = (await client.post(f"{API}/flows", headers=admin.headers, json={"name": "F"})).json()
    for role in ("viewer", "agent"):
        member = await add_member(client, admin, role)
        assert (await client.get(f"{API}/flows/{flow['id']}", headers=member.headers)).status_code == 200
        assert (await client.get(f"{API}/flows", headers=member.headers)).status_code == 200
        assert_error_shape(await client.post(f"{API}/flows", headers=member.headers, json={"name": "x"}), 403)
        assert_error_shape(await client.put(f"{API}/flows/{flow['id']}", headers=member.headers,
                                            json={"name": "x"}), 403)
        assert_error_shape(await client.delete(f"{API}/flows/{flow['id']}", headers=member.headers), 403)
    other = await register(client)
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, f"{API}/flows/{flow['id']}", headers=other.headers,
                                         json={"name": "x"} if method == "PUT" else None)
        assert_error_shape(response, 404, "flow_not_found")
    assert_error_shape(await client.get(f"{API}/flows/{flow['id']}/executions", headers=other.headers), 404)
    assert (await client.get(f"{API}/flows", headers=other.headers)).json() == []
    assert_error_shape(await client.get(f"{API}/flows/{uuid.uuid4()}", headers=admin.headers), 404)
    assert_error_shape(await client.get(f"{API}/flows"), 401)


async def test_delete_with_running_execution_needs_archiving(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                             worker: None) -> None:
    org = await org_with_number(client, fake_graph)
    flow = await publish(client, org, [node("start", "start"), node("ask", "question", text="Name?",
                                                                     variable="name")],
                         [edge("start", "ask")], {"type": "default"})
    await say(client, org, "5511977770001", "hi")
    await wait_sent(fake_graph, org, "5511977770001", 1)
    await wait_execution(client, org, flow["id"], "waiting")
    assert_error_shape(await client.delete(f"{API}/flows/{flow['id']}", headers=org.admin.headers), 409,
                       "flow_in_use")
    archived = await client.put(f"{API}/flows/{flow['id']}", headers=org.admin.headers, json={"status": "archived"})
    assert archived.status_code == 200 and archived.json()["status"] == "archived"
    assert (await client.delete(f"{API}/flows/{flow['id']}", headers=org.admin.headers)).status_code == 204


async def test_simulate_returns_the_transcript(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    nodes = [node("start", "start"),
             node("ask", "question", text="Age?", variable="age", validation="number", retry_message="A number!"),
             node("pick", "buttons", text="{{age}} it is. Continue?",
                  buttons=[{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]),
             node("wait", "delay", seconds=3600),
             node("api", "http_request", method="GET", url="https://api.example.com/x", save={"plan": "$.plan"}),
             node("ok", "end", text="Plan {{plan}}"), node("err", "end", text="Failed: {{http_error}}"),
             node("bye", "end", text="Bye")]
    edges = [edge("start", "ask"), edge("ask", "pick"), edge("pick", "wait", "yes"), edge("pick", "bye", "no"),
             edge("wait", "api"), edge("api", "ok", "success"), edge("api", "err", "error")]
    flow = (await client.post(f"{API}/flows", headers=admin.headers,
                              json={"name": "Sim", "nodes": nodes, "edges": edges})).json()
    response = await client.post(f"{API}/flows/{flow['id']}/simulate", headers=admin.headers,
                                 json={"messages": ["x", "42", {"reply_id": "yes"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["transcript"] == [
        {"from": "bot", "kind": "text", "text": "Age?"},
        {"from": "contact", "kind": "text", "text": "x"},
        {"from": "bot", "kind": "text", "text": "A number!"},
        {"from": "contact", "kind": "text", "text": "42"},
        {"from": "bot", "kind": "buttons", "text": "42 it is. Continue?",
         "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}]},
        {"from": "contact", "kind": "reply", "text": None, "reply_id": "yes"},
        {"from": "bot", "kind": "http_request", "method": "GET", "url": "https://api.example.com/x"},
        {"from": "bot", "kind": "text", "text": "Failed: not executed in the simulator"},
    ]
    assert body["status"] == "completed" and body["path"][-1] == "err"
    given = await client.post(f"{API}/flows/{flow['id']}/simulate", headers=admin.headers, json={
        "messages": ["42", "Yes"], "http_responses": {"api": {"status_code": 200, "body": {"plan": "gold"}}}})
    assert given.json()["transcript"][-1] == {"from": "bot", "kind": "text", "text": "Plan gold"}
    assert given.json()["variables"]["plan"] == "gold"
