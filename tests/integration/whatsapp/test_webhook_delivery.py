"""The fake delivers webhooks like Meta: signed over the exact bytes; our verifier and parser accept them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from adapters.whatsapp import parse_webhook, verify_signature
from domain.messaging import InboundMessage, StatusUpdate
from tests.fake_graph import FakeGraphServer, ServedApp, builders
from tests.integration.whatsapp.conftest import PHONE

pytestmark = pytest.mark.integration
APP_SECRET = "meta-app-secret-for-tests"


def _receiver(received: list[dict[str, Any]]) -> Starlette:
    async def webhook(request: Request) -> Response:
        raw = await request.body()
        signature = request.headers.get("x-hub-signature-256")
        ok = verify_signature(APP_SECRET, raw, signature)
        received.append(
            {
                "raw": raw,
                "signature": signature,
                "ok": ok,
                "content_type": request.headers.get("content-type"),
            }
        )
        return PlainTextResponse("ok" if ok else "bad signature", status_code=200 if ok else 401)

    return Starlette(routes=[Route("/api/v1/whatsapp/webhook", webhook, methods=["POST"])])


async def test_signed_delivery_verifies_and_parses(fake_graph: FakeGraphServer) -> None:
    received: list[dict[str, Any]] = []
    payload = builders.batch(
        builders.inbound_text(PHONE, "16505551234", "Olá, tudo bem? \U0001f600", name="Zé"),
        builders.status_update(PHONE, "wamid.out", "delivered", "16505551234", tracking="msg-9"),
    )
    async with ServedApp.running_async(_receiver(received)) as receiver:
        response = await fake_graph.deliver_webhook(
            f"{receiver.base_url}/api/v1/whatsapp/webhook", payload, APP_SECRET
        )
    assert response.status_code == 200
    (delivery,) = received
    assert delivery["ok"] is True and delivery["content_type"] == "application/json"
    assert delivery["raw"] == builders.webhook_body(payload)
    assert delivery["signature"] == builders.sign(APP_SECRET, delivery["raw"])
    message, status = parse_webhook(__import__("json").loads(delivery["raw"]))
    assert isinstance(message, InboundMessage) and message.text == "Olá, tudo bem? \U0001f600"
    assert message.profile_name == "Zé"
    assert isinstance(status, StatusUpdate) and status.biz_opaque_callback_data == "msg-9"


@pytest.mark.parametrize(
    ("secret", "signature"), [("another-secret", None), (None, None), (APP_SECRET, "sha256=" + "ab" * 32)]
)
async def test_unsigned_or_wrongly_signed_deliveries_fail(secret: str | None, signature: str | None) -> None:
    received: list[dict[str, Any]] = []
    payload = builders.inbound_text(PHONE, "16505551234", "hi")
    async with ServedApp.running_async(_receiver(received)) as receiver:
        response = await builders.deliver_webhook(
            f"{receiver.base_url}/api/v1/whatsapp/webhook", payload, secret, signature=signature
        )
    assert response.status_code == 401 and received[0]["ok"] is False


async def test_delivery_through_an_asgi_client_and_raw_bytes() -> None:
    received: list[dict[str, Any]] = []
    raw = b'{"object":"whatsapp_business_account","entry":[]}'
    transport = httpx.ASGITransport(app=_receiver(received))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await builders.deliver_webhook("/api/v1/whatsapp/webhook", raw, APP_SECRET, client=client)
    assert response.status_code == 200 and received[0]["raw"] == raw


async def test_statuses_for_every_recorded_send(fake_graph: FakeGraphServer, gateway: Any) -> None:
    from tests.integration.whatsapp.conftest import TOKEN

    first = await gateway.send_text(PHONE, TOKEN, "16505551234", "one", tracking="m-1")
    second = await gateway.send_text(PHONE, TOKEN, "5511987654321", "two", tracking="m-2")
    events = parse_webhook(builders.statuses_for(fake_graph.sent_messages, "read"))
    assert [
        (e.wamid, e.status, e.recipient_wa_id, e.biz_opaque_callback_data)
        for e in events
        if isinstance(e, StatusUpdate)
    ] == [(first.wamid, "read", "16505551234", "m-1"), (second.wamid, "read", "5511987654321", "m-2")]
