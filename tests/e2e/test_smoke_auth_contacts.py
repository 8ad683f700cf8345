from __future__ import annotations

import httpx

from tests.helpers import register


async def test_register_login_create_and_search_contact(client: httpx.AsyncClient) -> None:
    account = await register(client)
    me = await client.get("/api/v1/auth/me", headers=account.headers)
    assert me.status_code == 200 and me.json()["user"]["email"] == account.email
    created = await client.post("/api/v1/contacts", headers=account.headers,
                                json={"whatsapp_id": "+55 11 98765-4321", "name": "Maria"})
    assert created.status_code == 201, created.text
    assert created.json()["whatsapp_id"] == "5511987654321"
    found = await client.get("/api/v1/contacts", headers=account.headers, params={"query": "mar"})
    assert found.status_code == 200
    assert [c["name"] for c in found.json()] == ["Maria"]
    assert found.headers["X-Total-Count"] == "1"
