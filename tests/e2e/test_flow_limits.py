"""Flow size limits on create/update (issue #11 item 10), and GET /flows leaving the graph out unless asked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.flows_support import API, edge, node
from tests.helpers import assert_error_shape, register

pytestmark = pytest.mark.e2e

NODES_MAX, EDGES_MAX, GRAPH_MAX_BYTES = 500, 1000, 1024 * 1024


def chain(count: int, text: str = "hi") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    nodes = [node("n0", "start")] + [node(f"n{i}", "message", text=text) for i in range(1, count)]
    return nodes, [edge(f"n{i}", f"n{i + 1}") for i in range(count - 1)]


BIG_EDGES = [{"id": f"e{i}".ljust(200, "x"), "source": "s" * 190, "target": "t" * 190, "sourceHandle": "h" * 250,
              "targetHandle": "h" * 250} for i in range(EDGES_MAX)]  # 1.16 MB


@pytest.mark.parametrize(("what", "body", "code"), [
    ("too many nodes", {"nodes": chain(NODES_MAX + 1)[0]}, "validation_error"),
    ("too many edges", {"edges": [edge("a", "b") | {"id": f"e{i}"} for i in range(EDGES_MAX + 1)]},
     "validation_error"),
    ("graph too large", {"nodes": chain(300, "x" * 4000)[0]}, "flow_too_large"),  # 300 nodes of 4 KB: 1.2 MB
    ("graph too large by its edges", {"edges": BIG_EDGES}, "flow_too_large"),
])
async def test_a_flow_over_the_limits_is_refused_on_create_and_update(client: httpx.AsyncClient, what: str,
                                                                      body: dict[str, Any], code: str) -> None:
    admin = await register(client)
    created = await client.post(f"{API}/flows", headers=admin.headers, json={"name": "Big", **body})
    assert_error_shape(created, 422, code)
    assert created.json()["errors"], what
    draft = await client.post(f"{API}/flows", headers=admin.headers, json={"name": "Small"})
    updated = await client.put(f"{API}/flows/{draft.json()['id']}", headers=admin.headers, json=body)
    assert_error_shape(updated, 422, code)
    got = await client.get(f"{API}/flows/{draft.json()['id']}", headers=admin.headers)
    assert got.json()["nodes"] == [] and got.json()["edges"] == []  # nothing stored


async def test_an_update_is_limited_with_the_graph_it_keeps(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    nodes = chain(120, "x" * 4000)[0]  # about 0.5 MB each: together over the limit
    draft = await client.post(f"{API}/flows", headers=admin.headers, json={"name": "Half", "nodes": nodes})
    assert draft.status_code == 201
    edges = [e | {"id": e["id"].ljust(200, "x")} for e in BIG_EDGES[:500]]
    assert_error_shape(await client.put(f"{API}/flows/{draft.json()['id']}", headers=admin.headers,
                                        json={"edges": edges}), 422, "flow_too_large")


async def test_a_flow_at_the_limits_is_accepted(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    nodes, edges = chain(NODES_MAX, "x" * 1500)  # about 0.85 MB
    created = await client.post(f"{API}/flows", headers=admin.headers, json={"name": "Edge", "nodes": nodes,
                                                                             "edges": edges})
    assert created.status_code == 201, created.text[:300]
    assert len(created.json()["nodes"]) == NODES_MAX


async def test_the_list_leaves_the_graph_out_unless_asked(client: httpx.AsyncClient) -> None:
    admin = await register(client)
    nodes, edges = chain(3)
    created = (await client.post(f"{API}/flows", headers=admin.headers, json={
        "name": "Listed", "nodes": nodes, "edges": edges})).json()
    listed = await client.get(f"{API}/flows", headers=admin.headers)
    assert listed.status_code == 200
    [item] = listed.json()
    assert "nodes" not in item and "edges" not in item
    assert (item["node_count"], item["edge_count"]) == (3, 2)
    assert {k: v for k, v in created.items() if k not in {"nodes", "edges", "stats"}}.items() <= item.items()
    full = await client.get(f"{API}/flows", headers=admin.headers, params={"include": "graph"})
    [item] = full.json()
    assert (item["nodes"], item["edges"], item["node_count"]) == (created["nodes"], created["edges"], 3)
    one = await client.get(f"{API}/flows/{created['id']}", headers=admin.headers)
    assert one.json()["nodes"] == created["nodes"] and one.json()["edges"] == created["edges"]
    assert_error_shape(await client.get(f"{API}/flows", headers=admin.headers, params={"include": "all"}), 422)


async def test_the_limits_and_the_list_shape_are_documented(client: httpx.AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    create = schemas["FlowCreateIn"]
    assert create["properties"]["nodes"]["maxItems"] == NODES_MAX
    assert create["properties"]["edges"]["maxItems"] == EDGES_MAX
    assert create["x-max-graph-bytes"] == GRAPH_MAX_BYTES and "1 MiB" in create["properties"]["nodes"]["description"]
    item = spec["paths"]["/api/v1/flows"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    listed = schemas[item["items"]["$ref"].split("/")[-1]]
    assert {"nodes", "edges", "node_count", "edge_count"} <= set(listed["properties"])
    assert "nodes" not in listed["required"] and "edges" not in listed["required"]
    assert {"node_count", "edge_count"} <= set(listed["required"])
    include = [p for p in spec["paths"]["/api/v1/flows"]["get"]["parameters"] if p["name"] == "include"]
    assert include and "graph" in str(include[0]["schema"])
