"""JSON the parser accepts but PostgreSQL cannot store is a 422, never a 500 (issue #11 item 5).

Triggers: lone surrogates (``"\\ud800"``) in keys and values, free-form or not; ``NaN``, ``Infinity`` and ``1e400``;
nesting deeper than a free-form field allows (900 levels used to hit a RecursionError); free-form fields larger
than their limit. Each is sent over HTTP to the assembled app on the real PostgreSQL, and the answer must be the
contract's 422 with ``errors``. A hypothesis test then throws arbitrary such JSON at the same endpoints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.flows_support import API, Org, edge, node, org_with_number, publish
from tests.fake_graph.server import FakeGraphServer

pytestmark = pytest.mark.e2e

SURROGATE = "\ud800"
WA = "5511977770002"


@dataclass
class World:
    org: Org
    contact_id: str
    flow_id: str
    active_flow_id: str


@pytest.fixture(scope="module")
async def world(app: Any, fake_graph: FakeGraphServer) -> World:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        org = await org_with_number(client, fake_graph)
        contact = await client.post(f"{API}/contacts", headers=org.admin.headers, json={"whatsapp_id": "5511977770001"})
        assert contact.status_code == 201, contact.text
        draft = await client.post(f"{API}/flows", headers=org.admin.headers, json={"name": "Draft"})
        assert draft.status_code == 201, draft.text
        active = await publish(client, org, [node("s", "start"), node("m", "message", text="hi")], [edge("s", "m")],
                               None, name="Active")
        return World(org, contact.json()["id"], draft.json()["id"], active["id"])


def raw(value: Any) -> str:
    """JSON text with lone surrogates escaped (\\ud800) and NaN/Infinity written as Python's json writes them."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


# (name, method, path, body builder taking the world)
CASES: list[tuple[str, str, str, Any]] = [
    ("contact name", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "name": SURROGATE}),
    ("contact email", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "email": f"a{SURROGATE}@x.io"}),
    ("contact tag", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "tags": [SURROGATE]}),
    ("attribute value", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "attributes": {"a": SURROGATE}}),
    ("attribute key", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "attributes": {SURROGATE: 1}}),
    ("attribute NaN", "POST", "/contacts", lambda w: {"whatsapp_id": WA, "attributes": {"a": float("nan")}}),
    ("attribute Infinity", "PUT", "/contacts/{contact}", lambda w: {"attributes": {"a": float("inf")}}),
    ("attribute -Infinity", "PUT", "/contacts/{contact}", lambda w: {"attributes": {"a": [float("-inf")]}}),
    ("attribute 1e400", "PUT", "/contacts/{contact}", lambda w: '{"attributes": {"a": 1e400}}'),
    ("attribute 900 deep", "PUT", "/contacts/{contact}", lambda w: {"attributes": {"a": nested(900)}}),
    ("attribute 40 deep", "PUT", "/contacts/{contact}", lambda w: {"attributes": {"a": nested(40)}}),
    ("attributes too large", "PUT", "/contacts/{contact}", lambda w: {"attributes": {"a": "x" * 20_000}}),
    ("flow name", "POST", "/flows", lambda w: {"name": f"F{SURROGATE}"}),
    ("node data value", "POST", "/flows", lambda w: {"name": "F", "nodes": [node("m", "message", text=SURROGATE)]}),
    ("node data key", "PUT", "/flows/{flow}", lambda w: {"nodes": [{"id": "m", "type": "message",
                                                                    "data": {SURROGATE: "x"}}]}),
    ("node id", "PUT", "/flows/{flow}", lambda w: {"nodes": [node(SURROGATE, "start")]}),
    ("node extra key", "PUT", "/flows/{flow}", lambda w: {"nodes": [{**node("s", "start"), SURROGATE: 1}]}),
    ("node data NaN", "PUT", "/flows/{flow}", lambda w: {"nodes": [node("d", "delay", seconds=float("nan"))]}),
    ("node position Infinity", "PUT", "/flows/{flow}", lambda w: {"nodes": [
        {**node("s", "start"), "position": {"x": float("inf"), "y": 0}}]}),
    ("node data 1e400", "PUT", "/flows/{flow}",
     lambda w: '{"nodes": [{"id": "d", "type": "delay", "data": {"seconds": 1e400}}]}'),
    ("node data 900 deep", "PUT", "/flows/{flow}", lambda w: {"nodes": [node("h", "http_request", body=nested(900))]}),
    ("edge handle", "PUT", "/flows/{flow}", lambda w: {"edges": [{"id": "e", "source": "a", "target": "b",
                                                                  "sourceHandle": SURROGATE}]}),
    ("trigger keyword", "PUT", "/flows/{flow}", lambda w: {"trigger": {"type": "keyword", "keywords": [SURROGATE]}}),
    ("simulate message", "POST", "/flows/{flow}/simulate", lambda w: {"messages": [SURROGATE]}),
    ("simulate reply", "POST", "/flows/{flow}/simulate", lambda w: {"messages": [{"reply_id": SURROGATE}]}),
    ("simulate variable", "POST", "/flows/{flow}/simulate", lambda w: {"variables": {"v": SURROGATE}}),
    ("simulate variable key", "POST", "/flows/{flow}/simulate", lambda w: {"variables": {SURROGATE: "v"}}),
    ("simulate variable NaN", "POST", "/flows/{flow}/simulate", lambda w: {"variables": {"v": float("nan")}}),
    ("simulate http body", "POST", "/flows/{flow}/simulate", lambda w: {"http_responses": {"h": {
        "body": {"a": SURROGATE}}}}),
    ("simulate deep", "POST", "/flows/{flow}/simulate", lambda w: {"variables": {"v": nested(900)}}),
    ("send component", "POST", "/whatsapp/send", lambda w: {
        "to": "5511977770001", "type": "template", "template_id": "hello",
        "components": [{"type": "body", "parameters": [{"type": "text", "text": SURROGATE}]}]}),
    ("send message", "POST", "/whatsapp/send", lambda w: {"to": "5511977770001", "message": SURROGATE}),
    ("send component deep", "POST", "/whatsapp/send", lambda w: {
        "to": "5511977770001", "type": "template", "template_id": "hello", "components": [{"x": nested(900)}]}),
    ("automation variable", "POST", "/flow-automations", lambda w: {
        "flow_id": w.active_flow_id, "contacts": [w.contact_id], "config": {"variables": {"v": SURROGATE}}}),
    ("automation contact variable", "POST", "/flow-automations", lambda w: {
        "flow_id": w.active_flow_id, "contacts": [{"whatsapp_id": "5511977770003", "variables": {SURROGATE: 1}}]}),
    ("automation variables NaN", "POST", "/flow-automations", lambda w: {
        "flow_id": w.active_flow_id, "contacts": [w.contact_id], "config": {"variables": {"v": float("nan")}}}),
    ("automation rate Infinity", "POST", "/flow-automations", lambda w: {
        "flow_id": w.active_flow_id, "contacts": [w.contact_id], "config": {"rate_per_second": float("inf")}}),
    ("automation component", "POST", "/flow-automations", lambda w: {
        "flow_id": w.active_flow_id, "contacts": [w.contact_id],
        "config": {"template": {"name": "hello", "components": [{"type": "body", "x": SURROGATE}]}}}),
    ("secret key", "POST", "/secrets/", lambda w: {"key": "K", "value": f"v{SURROGATE}"}),
    ("user name", "POST", "/users", lambda w: {"email": "new-user@example.com", "name": SURROGATE,
                                                "role": "agent", "password": "correct horse battery"}),
    ("register name", "POST", "/auth/register", lambda w: {
        "email": "surrogate@example.com", "password": "correct horse battery", "name": SURROGATE,
        "organization_name": "Acme"}),
    ("login email", "POST", "/auth/login", lambda w: {"email": f"a{SURROGATE}@x.io", "password": "x" * 10}),
]


def _path(template: str, w: World) -> str:
    return API + template.format(contact=w.contact_id, flow=w.flow_id)


async def _send(client: httpx.AsyncClient, w: World, method: str, path: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, str) else raw(body)
    return await client.request(method, _path(path, w), content=content.encode("ascii"),
                                headers={**w.org.admin.headers, "content-type": "application/json"})


@pytest.mark.parametrize(("name", "method", "path", "build"), CASES, ids=[c[0] for c in CASES])
async def test_unstorable_json_is_a_422_in_the_error_shape(client: httpx.AsyncClient, world: World, name: str,
                                                           method: str, path: str, build: Any) -> None:
    response = await _send(client, world, method, path, build(world))
    assert response.status_code == 422, (name, response.status_code, response.text[:300])
    body = response.json()
    assert set(body) == {"detail", "status_code", "error_code", "errors"} and body["status_code"] == 422
    assert body["errors"] and all(set(e) == {"loc", "msg", "type"} for e in body["errors"])


async def test_the_limits_allow_what_they_document(client: httpx.AsyncClient, world: World) -> None:
    ok = await _send(client, world, "PUT", "/contacts/{contact}",
                     {"attributes": {"deep": nested(30), "big": "é" * 5000, "n": 1e300, "emoji": "\U0001f600"}})
    assert ok.status_code == 200, ok.text
    assert ok.json()["attributes"]["emoji"] == "\U0001f600" and ok.json()["attributes"]["n"] == 1e300


# -- arbitrary JSON ------------------------------------------------------------------------------------------

TEXT = st.text(st.characters(codec=None, categories=None), max_size=6) | st.sampled_from([SURROGATE, "\udfff", "a"])
NUMBERS = st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30)
SCALARS = st.none() | st.booleans() | NUMBERS | TEXT
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                    max_leaves=12)
DEEP = st.integers(30, 1200).map(nested)
FREE = JSON | DEEP
TARGETS = st.sampled_from([
    ("PUT", "/contacts/{contact}", lambda v, t: {"name": t, "attributes": {t: v}}),
    ("PUT", "/flows/{flow}", lambda v, t: {"name": t or "F", "nodes": [{"id": t or "n", "type": "message",
                                                                         "data": {t: v}}]}),
    ("PUT", "/flows/{flow}", lambda v, t: {"trigger": {"type": "keyword", "keywords": [t]}}),
    ("POST", "/flows/{flow}/simulate", lambda v, t: {"messages": [t], "variables": {t: v}}),
    ("POST", "/whatsapp/send", lambda v, t: {"to": "5511977770001", "type": "template", "template_id": "hello",
                                             "components": [{t: v}]}),
    ("POST", "/flow-automations", lambda v, t: {"flow_id": "{active}", "contacts": ["{contact}"],
                                                "config": {"variables": {t: v}}}),
])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(target=TARGETS, value=FREE, text=TEXT)
async def test_arbitrary_json_never_gets_a_server_error(client: httpx.AsyncClient, world: World,
                                                        target: Any, value: Any, text: str) -> None:
    method, path, build = target
    body = json.loads(raw(build(value, text)).replace('"{active}"', json.dumps(world.active_flow_id))
                      .replace('"{contact}"', json.dumps(world.contact_id)))
    response = await _send(client, world, method, path, body)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    if response.status_code == 422:
        assert set(response.json()) == {"detail", "status_code", "error_code", "errors"}


async def test_the_limits_are_in_the_openapi_document(client: httpx.AsyncClient) -> None:
    schemas = (await client.get(f"{API}/openapi.json")).json()["components"]["schemas"]
    attributes = schemas["ContactCreateIn"]["properties"]["attributes"]
    assert (attributes["x-max-bytes"], attributes["x-max-depth"]) == (16_384, 32)
    assert "At most 16,384 bytes as JSON, nested at most 32 deep." in attributes["description"]
    for schema, field in [("SendIn", "components"), ("AutomationConfigIn", "variables"), ("TemplateIn", "components"),
                          ("AudienceContactIn", "variables"), ("SimulateIn", "variables"), ("FlowNode", "data")]:
        assert schemas[schema]["properties"][field]["x-max-bytes"] == 65_536, schema


async def test_the_error_names_where_the_value_is(client: httpx.AsyncClient, world: World) -> None:
    response = await _send(client, world, "PUT", "/contacts/{contact}", {"attributes": {"a": [1, SURROGATE]}})
    [error] = response.json()["errors"]
    assert error["msg"].startswith("attributes.a.1: text must be valid Unicode") and error["type"] == "value_error"
    response = await _send(client, world, "PUT", "/contacts/{contact}", {"attributes": {"a": nested(40)}})
    assert response.json()["errors"][0]["msg"].startswith("attributes.a.0.0")
    assert "nested deeper than 32 levels" in response.json()["errors"][0]["msg"]
