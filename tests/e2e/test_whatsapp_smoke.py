from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.conftest import APP_SECRET
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import register

pytestmark = pytest.mark.e2e


async def test_number_send_and_inbound_round_trip(client: httpx.AsyncClient, fake_graph: FakeGraphServer,
                                                  worker: None) -> None:
    admin = await register(client)
    fake_graph.add_number("1000000001", "token-1", display_phone_number="15550001111", verified_name="Acme")
    secret = await client.post("/api/v1/secrets/", headers=admin.headers,
                               json={"key": "WA_TOKEN", "value": "token-1", "service": "whatsapp"})
    assert secret.status_code == 201, secret.text
    number = await client.post("/api/v1/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": "1000000001", "access_token_secret_id": secret.json()["id"]})
    assert number.status_code == 201, number.text
    assert number.json()["status"] == "active"
    body = builders.webhook_body(builders.inbound_text("1000000001", "5511999990000", "hi"))
    response = await client.post("/api/v1/whatsapp/webhook", content=body,
                                 headers={"X-Hub-Signature-256": builders.sign(APP_SECRET, body),
                                          "content-type": "application/json"})
    assert response.status_code == 200, response.text
    contacts = []
    for _ in range(50):
        contacts = (await client.get("/api/v1/contacts", headers=admin.headers)).json()
        if contacts:
            break
        await asyncio.sleep(0.1)
    assert [c["whatsapp_id"] for c in contacts] == ["5511999990000"]
    sent = await client.post("/api/v1/whatsapp/send", headers=admin.headers,
                             json={"to": "+55 11 99999-0000", "message": "hello back"})
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["message_id"]
    detail = {}
    for _ in range(50):
        detail = (await client.get(f"/api/v1/whatsapp/messages/{message_id}", headers=admin.headers)).json()
        if detail.get("status") == "sent":
            break
        await asyncio.sleep(0.1)
    assert detail["status"] == "sent" and detail["wamid"]
    assert [m.to for m in fake_graph.sent_messages][-1].endswith("5511999990000")
