"""A PUT (PATCH for users) that sends back what a GET returned works: the resource's read-only fields are accepted
and ignored, and nothing changes that should not; fields the resource does not have are still refused (422)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.e2e.flows_support import edge, node
from tests.e2e.support import API, create_user, http_client
from tests.helpers import Account, assert_error_shape, register

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def admin(app: FastAPI) -> AsyncIterator[Account]:
    async with http_client(app) as client:
        yield await register(client, organization_name="Round trips")


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


async def _round_trip(client: httpx.AsyncClient, admin: Account, method: str, url: str) -> tuple[Any, Any, Any]:
    before = (await client.get(url, headers=admin.headers)).json()
    sent = await client.request(method, url, headers=admin.headers, json=before)
    assert sent.status_code == 200, sent.text
    after = (await client.get(url, headers=admin.headers)).json()
    return before, sent.json(), after


async def test_a_contact_sent_back_as_it_was_read(client: httpx.AsyncClient, admin: Account) -> None:
    created = await client.post(f"{API}/contacts", headers=admin.headers, json={
        "whatsapp_id": "+55 11 97777-0001", "name": "Rita", "tags": ["vip"], "attributes": {"plan": "gold"}})
    url = f"{API}/contacts/{created.json()['id']}"
    before, answered, after = await _round_trip(client, admin, "PUT", url)
    assert _without(answered, "updated_at") == _without(after, "updated_at") == _without(before, "updated_at")
    assert after["created_at"] == before["created_at"]


async def test_a_contact_s_read_only_fields_are_ignored_even_when_different(client: httpx.AsyncClient,
                                                                            admin: Account) -> None:
    created = (await client.post(f"{API}/contacts", headers=admin.headers, json={
        "whatsapp_id": "5511977770002"})).json()
    forged = {**created, "id": str(uuid.uuid4()), "organization_id": str(uuid.uuid4()),
              "created_at": "2000-01-01T00:00:00Z", "name": "Renamed"}
    response = await client.put(f"{API}/contacts/{created['id']}", headers=admin.headers, json=forged)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["organization_id"], body["created_at"]) == (
        created["id"], admin.organization_id, created["created_at"])
    assert body["name"] == "Renamed"


async def test_an_active_flow_sent_back_keeps_its_version(client: httpx.AsyncClient, admin: Account) -> None:
    created = (await client.post(f"{API}/flows", headers=admin.headers, json={
        "name": "Echo", "nodes": [node("start", "start"), node("hi", "message", text="Hi")],
        "edges": [edge("start", "hi")], "trigger": {"type": "keyword", "keywords": ["echo"]}})).json()
    url = f"{API}/flows/{created['id']}"
    published = await client.put(url, headers=admin.headers, json={"status": "active"})
    assert published.json()["published_version"] == 1
    before, answered, after = await _round_trip(client, admin, "PUT", url)
    assert before["stats"] is not None and before["status"] == "active"
    assert _without(after, "updated_at") == _without(before, "updated_at") == _without(answered, "updated_at")
    assert after["published_version"] == 1  # the same graph: no new version


async def test_a_secret_sent_back_keeps_its_value_and_status(client: httpx.AsyncClient, admin: Account) -> None:
    created = (await client.post(f"{API}/secrets/", headers=admin.headers, json={
        "key": f"ECHO_{uuid.uuid4().hex[:6].upper()}", "value": "s3cr3t-value", "environment": "staging",
        "service": "billing"})).json()
    url = f"{API}/secrets/{created['id']}"
    before, answered, after = await _round_trip(client, admin, "PUT", url)
    assert set(before) >= {"id", "key", "status", "organization_id", "created_at", "updated_at", "last_rotated_at"}
    assert _without(after, "updated_at") == _without(before, "updated_at") == _without(answered, "updated_at")
    value = await client.get(f"{url}/value", headers=admin.headers)
    assert value.json()["value"] == "s3cr3t-value"


async def test_a_user_sent_back_as_it_was_read(client: httpx.AsyncClient, admin: Account) -> None:
    user = await create_user(client, admin, "agent")
    url = f"{API}/users/{user['id']}"
    response = await client.patch(url, headers=admin.headers, json={**user, "name": "Agent Smith"})
    assert response.status_code == 200, response.text
    assert _without(response.json(), "updated_at", "name") == _without(user, "updated_at", "name")
    assert response.json()["name"] == "Agent Smith"


@pytest.mark.parametrize(("method", "kind"), [("PUT", "contacts"), ("PUT", "flows"), ("PUT", "secrets"),
                                              ("PATCH", "users")])
async def test_fields_the_resource_does_not_have_are_still_refused(client: httpx.AsyncClient, admin: Account,
                                                                   method: str, kind: str) -> None:
    ids = {"contacts": lambda: client.post(f"{API}/contacts", headers=admin.headers,
                                           json={"whatsapp_id": f"55119{uuid.uuid4().int % 10**8:08d}"}),
           "flows": lambda: client.post(f"{API}/flows", headers=admin.headers, json={"name": "F"}),
           "secrets": lambda: client.post(f"{API}/secrets/", headers=admin.headers, json={
               "key": f"K_{uuid.uuid4().hex[:6].upper()}", "value": "v-1"}),
           "users": lambda: client.post(f"{API}/users", headers=admin.headers, json={
               "email": f"u-{uuid.uuid4().hex[:8]}@example.com", "name": "U", "role": "viewer"})}
    created = (await ids[kind]()).json()
    url = f"{API}/{kind}/{created['id']}"
    response = await client.request(method, url, headers=admin.headers, json={**created, "is_superuser": True})
    body = assert_error_shape(response, 422, "validation_error")
    assert ["body", "is_superuser"] in [e["loc"] for e in body["errors"]]
    assert (await client.get(url, headers=admin.headers)).json() == created if kind != "users" else True
