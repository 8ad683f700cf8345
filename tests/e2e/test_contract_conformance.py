"""The API contract (docs/contract/API_CONTRACT_v1.pt-BR.md) can never silently drift from our OpenAPI:
every method and path of its endpoint tables exists, and every field its schemas name is in our models."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_CANDIDATES = [ROOT / "docs" / "contract" / "API_CONTRACT_v1.pt-BR.md"]
ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|[^|]*\|\s*([^|]*)\|\s*([^|]*)\|")
INTERFACE = re.compile(r"interface (\w+) \{(.*?)\n\}", re.S)
FIELD = re.compile(r"^  (\w+)\??:", re.M)  # top-level fields (two spaces in the contract)
NESTED = re.compile(r"^    (\w+)\??:", re.M)
ARRAY = re.compile(r"^`Array<(\w+)>`$")
# contract schema -> (method, path, where in the response the object is)
SCHEMA_ROUTES = {
    "WhatsAppNumber": ("get", "/api/v1/whatsapp/numbers", "items"),
    "Flow": ("get", "/api/v1/flows/{id}", "body"),
    "Secret": ("get", "/api/v1/secrets/{id}", "body"),
    "SecretUsageStats": ("get", "/api/v1/secrets/{id}/usage", "body"),
    "Contact": ("post", "/api/v1/contacts", "body"),
}
# The one deliberate difference from the contract (CHANGELOG, v1.0.0 "Changed"): GET /flows leaves each flow's
# graph out unless ?include=graph is sent (a page of 50 drafts used to carry up to 50 MB), so in its items `nodes`
# and `edges` are optional, and `node_count`/`edge_count` are always there. GET /flows/{id} keeps the contract's
# Flow (checked through SCHEMA_ROUTES above). No other list may leave out a field the contract requires.
LIST_ITEM_OPTIONAL = {("get", "/api/v1/flows"): {"nodes", "edges"}}


def _contract() -> str:
    for path in CONTRACT_CANDIDATES:
        if path.exists():
            return path.read_text(encoding="utf-8")
    pytest.skip("the contract file is not next to the repository")


def _endpoints(text: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in text.splitlines():
        match = ROW.match(line.strip())
        if match:
            method, path, request, response = match.groups()
            rows.append((method.lower(), path.strip(), request.strip(), response.strip()))
    return rows


def _template(path: str) -> str:
    """`/api/v1/flows/{id}/start` -> a regex matching our `/api/v1/flows/{flow_id}/start`."""
    pattern = re.sub(r"\\\{[^}]+\\\}", r"\\{[^}]+\\}", re.escape(path.rstrip("/") or "/"))
    return f"^{pattern}/?$"


def _find(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    regex = re.compile(_template(path))
    for candidate, operations in spec["paths"].items():
        if regex.match(candidate) and method in operations:
            return candidate, operations[method]
    raise AssertionError(f"{method.upper()} {path} from the contract is missing from our OpenAPI")


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
        return _resolve(spec, schema)
    return schema


def _properties(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        schema = _resolve(spec, schema["items"])
    return set(schema.get("properties", {}))


def _response_schema(operation: dict[str, Any]) -> dict[str, Any]:
    for status in ("200", "201", "202"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        if "application/json" in content:
            return dict(content["application/json"]["schema"])
    return {}


def _request_schema(operation: dict[str, Any]) -> dict[str, Any]:
    content = operation.get("requestBody", {}).get("content", {})
    return dict(content.get("application/json", {}).get("schema", {}))


async def test_every_contract_endpoint_exists_with_its_named_fields(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    rows = _endpoints(_contract())
    assert len(rows) >= 30, "the contract's endpoint tables were not parsed"
    for method, path, request, response in rows:
        _, operation = _find(spec, method, path)
        requested = re.findall(r"\b([a-z_]+)\??\b", request.split("`")[1]) if request.startswith("`{") else []
        if requested and method in {"post", "put", "patch"}:
            assert set(requested) <= _properties(spec, _request_schema(operation)), (method, path, requested)
        if response.startswith("`{") and "..." not in response:
            named = set(re.findall(r"\b([a-z_]+)\b", response.split("`")[1])) - {"started", "string", "boolean"}
            assert named <= _properties(spec, _response_schema(operation)), (method, path, named)
        if response.startswith("`204"):
            assert "204" in operation["responses"], (method, path)


async def test_every_field_of_the_contract_schemas_is_in_our_models(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    interfaces: dict[str, str] = {}
    for name, body in INTERFACE.findall(_contract()):
        interfaces.setdefault(name, body)  # the first definition; later ones are the deprecation examples
    for name, (method, path, _where) in SCHEMA_ROUTES.items():
        fields = set(FIELD.findall(interfaces[name]))
        _, operation = _find(spec, method, path)
        assert fields <= _properties(spec, _response_schema(operation)), (name, fields)
    _, get_flow = _find(spec, "get", "/api/v1/flows/{id}")
    flow_schema = _resolve(spec, _response_schema(get_flow))
    assert set(NESTED.findall(interfaces["Flow"])) <= _properties(spec, flow_schema["properties"]["stats"])
    error_fields = set(FIELD.findall(interfaces["ErrorResponse"]))
    assert error_fields <= set(spec["components"]["schemas"]["ErrorResponse"]["properties"])
    flow_node = set(FIELD.findall(interfaces["FlowNode"]))
    flow_edge = set(FIELD.findall(interfaces["FlowEdge"]))
    _, create_flow = _find(spec, "post", "/api/v1/flows")
    body = _resolve(spec, _request_schema(create_flow))
    assert flow_node <= _properties(spec, body["properties"]["nodes"])
    assert flow_edge <= _properties(spec, body["properties"]["edges"])


async def test_every_contract_list_returns_the_schemas_fields(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    interfaces: dict[str, str] = {}
    for name, body in INTERFACE.findall(_contract()):
        interfaces.setdefault(name, body)
    lists = [(m, p, ARRAY.match(r)) for m, p, _q, r in _endpoints(_contract()) if ARRAY.match(r)]
    assert len(lists) >= 5, "the contract's Array<...> responses were not parsed"
    for method, path, match in lists:
        assert match is not None
        _, operation = _find(spec, method, path)
        items = _resolve(spec, _resolve(spec, _response_schema(operation))["items"])
        assert set(FIELD.findall(interfaces[match.group(1)])) <= set(items["properties"]), (method, path)
        optional = LIST_ITEM_OPTIONAL.get((method, path), set())
        assert optional.isdisjoint(items.get("required", [])), (method, path, "documented as optional")
    _, list_flows = _find(spec, "get", "/api/v1/flows")
    flow_item = _resolve(spec, _resolve(spec, _response_schema(list_flows))["items"])
    assert {"node_count", "edge_count"} <= set(flow_item["required"])
    assert "include" in {p["name"] for p in list_flows["parameters"]}
