"""Every operation answers with and without a trailing slash, the same, with no redirect (a redirect's absolute
Location breaks browsers behind the frontend's rewrite proxy). The OpenAPI keeps one canonical path each."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from entrypoints.cli import openapi_document
from tests.e2e.support import API, http_client
from tests.helpers import Account, login, register

DOCUMENT = openapi_document()
OPERATIONS = sorted((method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item
                    if method in {"get", "post", "put", "patch", "delete"})


@pytest.fixture(scope="module")
async def admin(app: FastAPI) -> AsyncIterator[Account]:
    async with http_client(app) as client:
        yield await register(client, organization_name="Slashes")


def _other_form(url: str) -> str:
    path, _, query = url.partition("?")
    toggled = path[:-1] if path.endswith("/") else path + "/"
    return toggled + (f"?{query}" if query else "")


def test_the_document_keeps_the_contract_s_canonical_paths() -> None:
    paths = set(DOCUMENT["paths"])
    assert {f"{API}/secrets/", f"{API}/contacts", f"{API}/flows", f"{API}/users", f"{API}/flow-automations"} <= paths
    assert not {f"{API}/secrets", f"{API}/contacts/", f"{API}/flows/"} & paths  # one path per operation


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
async def test_both_forms_of_every_operation_answer_alike_without_a_redirect(
        client: httpx.AsyncClient, admin: Account, method: str, path: str) -> None:
    url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
    headers = admin.headers
    if path == f"{API}/auth/logout":  # each call ends its session: one fresh session per call
        headers = (await login(client, admin.email)).headers
    if path == f"{API}/events":  # the stream itself never ends: a bad resume point is answered at once (422)
        headers = {**headers, "Last-Event-ID": "not-an-id"}
    kwargs: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}
    canonical = await client.request(method, url, headers=headers, **kwargs)
    if path == f"{API}/auth/logout":
        headers = (await login(client, admin.email)).headers
    other = await client.request(method, _other_form(url), headers=headers, **kwargs)

    assert canonical.status_code not in {301, 302, 307, 308}, canonical.headers
    assert other.status_code not in {301, 302, 307, 308}, other.headers.get("location")
    assert other.status_code == canonical.status_code, (other.text, canonical.text)
    if path == f"{API}/events/ticket":  # a fresh single-use ticket each call
        assert canonical.status_code == 201 and set(other.json()) == set(canonical.json()) == {"ticket", "expires_at"}
    elif canonical.headers.get("content-type", "").startswith("application/json"):
        assert other.json() == canonical.json()


async def test_a_collection_lists_the_same_items_in_both_forms(client: httpx.AsyncClient, admin: Account) -> None:
    created = await client.post(f"{API}/contacts/", headers=admin.headers, json={"whatsapp_id": "5511933330001"})
    assert created.status_code == 201, created.text
    bare = await client.get(f"{API}/contacts", headers=admin.headers)
    slashed = await client.get(f"{API}/contacts/?limit=50", headers=admin.headers)
    assert bare.status_code == slashed.status_code == 200
    assert bare.json() == slashed.json() and created.json() in bare.json()
    assert bare.headers["X-Total-Count"] == slashed.headers["X-Total-Count"]


async def test_secrets_are_created_through_both_forms(client: httpx.AsyncClient, admin: Account) -> None:
    keys = []
    for url in (f"{API}/secrets/", f"{API}/secrets"):
        key = f"KEY_{uuid.uuid4().hex[:8].upper()}"
        response = await client.post(url, headers=admin.headers, json={"key": key, "value": "v-123456",
                                                                        "environment": "development"})
        assert response.status_code == 201, response.text
        assert response.json()["key"] == key
        keys.append(key)
    listed = await client.get(f"{API}/secrets", headers=admin.headers)
    assert listed.status_code == 200 and set(keys) <= {s["key"] for s in listed.json()}


async def test_an_item_path_with_a_trailing_slash_reaches_the_item(client: httpx.AsyncClient, admin: Account) -> None:
    flow = await client.post(f"{API}/flows/", headers=admin.headers, json={"name": "Slash", "nodes": [], "edges": []})
    assert flow.status_code == 201, flow.text
    got = await client.get(f"{API}/flows/{flow.json()['id']}/", headers=admin.headers)
    assert got.status_code == 200 and got.json()["id"] == flow.json()["id"]


async def test_unknown_paths_stay_404_in_both_forms(client: httpx.AsyncClient) -> None:
    for url in (f"{API}/nothing", f"{API}/nothing/"):
        response = await client.get(url)
        assert response.status_code == 404 and response.json()["error_code"] == "not_found"
