"""Number ownership over HTTP, with the real worker and the fake Graph API: a number registered during a Graph
outage (still ``pending``) receives no webhooks, and the real owner's verified registration takes it over."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.e2e.whatsapp_support import (
    API,
    contact_by_wa_id,
    contact_messages,
    deliver,
    random_digits,
    random_wa_id,
    wait_processed,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import Account, assert_error_shape, register

pytestmark = pytest.mark.e2e


async def _register_number(client: httpx.AsyncClient, account: Account, pnid: str, token: str) -> httpx.Response:
    secret = await client.post(f"{API}/secrets/", headers=account.headers, json={
        "key": f"WA_{secrets.token_hex(3).upper()}", "value": token, "service": "whatsapp"})
    assert secret.status_code == 201, secret.text
    return await client.post(f"{API}/whatsapp/numbers", headers=account.headers, json={
        "phone_number_id": pnid, "access_token_secret_id": secret.json()["id"]})


async def _squat(client: httpx.AsyncClient, fake_graph: FakeGraphServer, pnid: str) -> tuple[Account, dict[str, Any]]:
    """Another tenant registers the number while the Graph API cannot be reached for it: it stays pending."""
    squatter = await register(client, organization_name="Squatter")
    fake_graph.set_unavailable(pnid)
    try:
        response = await _register_number(client, squatter, pnid, "EAAG" + secrets.token_hex(12))
    finally:
        fake_graph.set_unavailable(pnid, False)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return squatter, response.json()


async def _contacts(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/contacts", headers=account.headers)
    assert response.status_code == 200, response.text
    return list(response.json())


async def test_a_number_still_pending_verification_receives_no_webhooks(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    pnid = random_digits()
    fake_graph.add_number(pnid, "EAAG" + secrets.token_hex(12))  # the real owner's number, not in PyTake yet
    squatter, _ = await _squat(client, fake_graph, pnid)

    body = await deliver(client, builders.inbound_text(pnid, random_wa_id(), "my order number is 4711"))

    assert await wait_processed(database_url, body) == {"unroutable": 1}
    assert await _contacts(client, squatter) == []


async def test_the_real_owner_takes_over_a_number_another_tenant_registered_unverified(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    pnid, owner_token = random_digits(), "EAAG" + secrets.token_hex(12)
    fake_graph.add_number(pnid, owner_token)
    squatter, squatted = await _squat(client, fake_graph, pnid)
    owner = await register(client, organization_name="Real owner")

    registered = await _register_number(client, owner, pnid, owner_token)

    assert registered.status_code == 201, registered.text
    assert (registered.json()["status"], registered.json()["phone_number_id"]) == ("active", pnid)
    (superseded,) = (await client.get(f"{API}/whatsapp/numbers", headers=squatter.headers)).json()
    assert (superseded["id"], superseded["status"]) == (squatted["id"], "inactive")
    assert "another organization" in superseded["last_error"].lower()

    wa_id = random_wa_id()
    body = await deliver(client, builders.inbound_text(pnid, wa_id, "where is my parcel?"))
    assert await wait_processed(database_url, body) == {"inbound": 1}
    contact = await contact_by_wa_id(client, owner, wa_id)  # type: ignore[arg-type]
    assert contact is not None
    (message,) = await contact_messages(client, owner, contact["id"])  # type: ignore[arg-type]
    assert message["content"] == {"text": "where is my parcel?"}
    assert message["number_id"] == registered.json()["id"]
    assert await _contacts(client, squatter) == []

    again = await _register_number(client, squatter, pnid, "EAAG" + secrets.token_hex(12))
    assert_error_shape(again, 409, "whatsapp_number_already_registered")
