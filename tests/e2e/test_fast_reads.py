"""List totals past LIST_COUNT_EXACT_LIMIT (an application of its own with a limit of 5) and authentication read
from the database on every request by every replica (a second API process on the same database)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from entrypoints.config import Settings
from tests.conftest import app_with
from tests.e2e.support import API, bearer, http_client
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5


@pytest.fixture(scope="module")
async def counted(test_settings: Settings, database_url: str, app: FastAPI) -> AsyncIterator[FastAPI]:
    async with app_with(test_settings, database_url, app, list_count_exact_limit=LIMIT,
                        list_count_cache_seconds=300.0) as application:
        yield application


def _total(response: httpx.Response) -> tuple[int, str]:
    assert response.status_code == 200, response.text
    return int(response.headers["X-Total-Count"]), response.headers["X-Total-Count-Estimated"]


async def _contact(client: httpx.AsyncClient, token: str, number: int, name: str) -> None:
    created = await client.post(f"{API}/contacts", headers=bearer(token),
                                json={"whatsapp_id": f"5511970{number:06d}", "name": name})
    assert created.status_code == 201, created.text


async def test_a_total_is_exact_up_to_the_limit_and_an_estimate_past_it(counted: FastAPI) -> None:
    async with http_client(counted) as client:
        admin = await register(client)
        headers = bearer(admin.access_token)
        for n in range(LIMIT):
            await _contact(client, admin.access_token, n, f"Maria {n}")
        assert _total(await client.get(f"{API}/contacts", headers=headers)) == (LIMIT, "false")
        for n in range(LIMIT, LIMIT + 3):
            await _contact(client, admin.access_token, n, f"Pedro {n}")
        listed = await client.get(f"{API}/contacts", headers=headers, params={"limit": 3})
        total, estimated = _total(listed)
        assert estimated == "true" and total >= LIMIT + 1  # at least what the capped count saw
        assert [c["name"] for c in listed.json()] == ["Pedro 7", "Pedro 6", "Pedro 5"]  # the page itself is exact
        # a search is counted on its own: exact while its matches stay within the limit
        assert _total(await client.get(f"{API}/contacts", headers=headers, params={"query": "pedro"})) == (3, "false")
        searched = await client.get(f"{API}/contacts", headers=headers, params={"query": "551197", "limit": 2})
        assert _total(searched)[1] == "true" and len(searched.json()) == 2
        # past the end of the list: no items, the total still answered
        beyond = await client.get(f"{API}/contacts", headers=headers, params={"offset": 100, "query": "maria"})
        assert beyond.json() == [] and _total(beyond) == (LIMIT, "false")


async def test_another_organizations_estimate_is_never_served(counted: FastAPI) -> None:
    async with http_client(counted) as client:
        big, small = await register(client), await register(client)
        for n in range(LIMIT + 2):
            await _contact(client, big.access_token, 100 + n, f"Big {n}")
        assert _total(await client.get(f"{API}/contacts", headers=bearer(big.access_token)))[1] == "true"
        await _contact(client, small.access_token, 200, "Small")
        listed = await client.get(f"{API}/contacts", headers=bearer(small.access_token))
        assert _total(listed) == (1, "false") and [c["name"] for c in listed.json()] == ["Small"]


async def test_every_list_endpoint_flags_its_total(counted: FastAPI) -> None:
    async with http_client(counted) as client:
        admin = await register(client)
        for _ in range(LIMIT + 1):
            await add_member(client, admin, "viewer")
        users = await client.get(f"{API}/users", headers=bearer(admin.access_token))
        assert _total(users)[1] == "true"
        for path in ("/flows", "/flow-automations", "/secrets/", "/whatsapp/numbers"):
            assert _total(await client.get(f"{API}{path}", headers=bearer(admin.access_token))) == (0, "false")


def test_openapi_documents_the_total_headers_on_list_responses(counted: FastAPI) -> None:
    document = counted.openapi()
    for path in ("/api/v1/contacts", "/api/v1/flows", "/api/v1/flow-automations",
                 "/api/v1/flow-automations/{automation_id}/recipients", "/api/v1/secrets/",
                 "/api/v1/contacts/{contact_id}/messages", "/api/v1/users"):
        headers = document["paths"][path]["get"]["responses"]["200"]["headers"]
        assert set(headers) == {"X-Total-Count", "X-Total-Count-Estimated"}, path


# --- a second replica ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def replica(test_settings: Settings, database_url: str) -> Iterator[str]:
    """Another API process on the same database (the same signing key): what a load balancer's second replica is."""
    port = _free_port()
    secret = test_settings.jwt_secret.get_secret_value() if test_settings.jwt_secret else ""
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(test_settings.data_dir), "ENV": "test",
           "JWT_SECRET": secret, "LOG_LEVEL": "WARNING", "PASSWORD_HASH_TIME_COST": "1",
           "PASSWORD_HASH_MEMORY_KIB": "1024"}
    for name in ("whatsapp_app_secret", "whatsapp_verify_token", "vault_master_keys"):
        value = getattr(test_settings, name)
        if value is not None:
            env[name.upper()] = value.get_secret_value()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "entrypoints.http.app:create_app", "--factory",
                                "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            output = process.stderr.read().decode()[-2000:] if process.stderr else ""
            raise RuntimeError(f"the replica exited: {output}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the replica did not start within 60 s")
        time.sleep(0.2)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(20)


async def test_a_logout_on_one_replica_is_refused_by_the_other_at_once(client: httpx.AsyncClient,
                                                                        replica: str) -> None:
    account = await register(client)
    async with httpx.AsyncClient(base_url=replica, timeout=10) as other:
        assert (await other.get(f"{API}/contacts", headers=bearer(account.access_token))).status_code == 200
        assert (await client.post(f"{API}/auth/logout", headers=bearer(account.access_token))).status_code == 204
        refused = await other.get(f"{API}/contacts", headers=bearer(account.access_token))
        assert_error_shape(refused, 401)


async def test_a_deactivated_user_and_a_new_role_count_on_the_other_replica_at_once(client: httpx.AsyncClient,
                                                                                     replica: str) -> None:
    admin = await register(client)
    agent = await add_member(client, admin, "agent")
    async with httpx.AsyncClient(base_url=replica, timeout=10) as other:
        write = {"whatsapp_id": "5511912340000", "name": "Before"}
        assert (await other.post(f"{API}/contacts", headers=bearer(agent.access_token), json=write)).status_code == 201
        demoted = await client.patch(f"{API}/users/{agent.user['id']}", headers=bearer(admin.access_token),
                                     json={"role": "viewer"})
        assert demoted.status_code == 200
        refused = await other.post(f"{API}/contacts", headers=bearer(agent.access_token),
                                   json={"whatsapp_id": "5511912340001"})
        assert_error_shape(refused, 403)
        assert (await other.get(f"{API}/contacts", headers=bearer(agent.access_token))).status_code == 200
        deactivated = await client.patch(f"{API}/users/{agent.user['id']}", headers=bearer(admin.access_token),
                                         json={"is_active": False})
        assert deactivated.status_code == 200
        assert_error_shape(await other.get(f"{API}/contacts", headers=bearer(agent.access_token)), 401)


async def test_list_pages_of_database_rows_are_rendered_directly(client: httpx.AsyncClient) -> None:
    """Rows as the database returns them (asyncpg's own UUID type, arrays, JSON) are rendered by the direct
    renderer, never by its pydantic fallback, and the answer is what pydantic renders."""
    from entrypoints.http.routers import automations, contacts, secrets, users

    account = await register(client)
    headers = bearer(account.access_token)
    for n in range(3):
        created = await client.post(f"{API}/contacts", headers=headers, json={
            "whatsapp_id": f"551198877{n:04d}", "name": f"Row {n}", "tags": ["vip"], "attributes": {"n": n}})
        assert created.status_code == 201
    assert (await client.post(f"{API}/secrets/", headers=headers, json={"key": "K", "value": "v"})).status_code == 201
    renderers = [contacts._CONTACT_LIST, users._USER_LIST, secrets._SECRET_LIST, automations._AUTOMATION_LIST]
    before = [r.fallbacks for r in renderers]
    pages = {path: await client.get(f"{API}{path}", headers=headers)
             for path in ("/contacts", "/contacts?query=Row", "/users", "/secrets/", "/flow-automations")}
    assert all(page.status_code == 200 for page in pages.values())
    assert [r.fallbacks for r in renderers] == before
    listed = pages["/contacts"].json()
    assert [c["name"] for c in listed] == ["Row 2", "Row 1", "Row 0"] and listed[0]["attributes"] == {"n": 2}
    assert listed[0]["created_at"].endswith("Z") and len(listed[0]["id"]) == 36
