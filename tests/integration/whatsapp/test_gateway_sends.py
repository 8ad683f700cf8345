"""Every send type reaches the fake Graph API over real HTTP with Meta's exact request shape."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from application.ports.whatsapp import ListRow, ListSection, PhoneNumberDetails, SentMessage
from tests.fake_graph import FakeGraphServer
from tests.integration.whatsapp.conftest import PHONE, TOKEN

pytestmark = pytest.mark.integration
TO = "16505551234"
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234"}


def _last_body(fake: FakeGraphServer) -> dict[str, Any]:
    (sent,) = fake.sent_messages
    return sent.body


async def test_text_with_tracking_and_reply_context(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    result = await gateway.send_text(
        PHONE,
        TOKEN,
        TO,
        "Hello https://example.com",
        preview_url=True,
        reply_to="wamid.original",
        tracking="msg-0001",
    )
    (sent,) = fake_graph.sent_messages
    assert result == SentMessage(wamid=sent.wamid, wa_id=TO)
    assert sent.wamid.startswith("wamid.")
    assert sent.body == {
        **ENVELOPE,
        "type": "text",
        "text": {"preview_url": True, "body": "Hello https://example.com"},
        "context": {"message_id": "wamid.original"},
        "biz_opaque_callback_data": "msg-0001",
    }
    assert (sent.biz_opaque_callback_data, sent.context_wamid, sent.type) == (
        "msg-0001",
        "wamid.original",
        "text",
    )
    (request,) = fake_graph.requests
    assert (request.method, request.path, request.status, request.token_valid) == (
        "POST",
        f"/v25.0/{PHONE}/messages",
        200,
        True,
    )
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "<redacted>"


async def test_plain_text_has_no_optional_fields(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    await gateway.send_text(PHONE, TOKEN, "+55 11 98765-4321", "oi")
    assert _last_body(fake_graph) == {
        **ENVELOPE,
        "to": "+5511987654321",
        "type": "text",
        "text": {"body": "oi"},
    }


async def test_template(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    components = [
        {
            "type": "body",
            "parameters": [{"type": "text", "text": "Jessica"}, {"type": "text", "text": "SKBUP2-4CPIG9"}],
        }
    ]
    result = await gateway.send_template(
        PHONE, TOKEN, TO, "order_confirmation", "en_US", components, tracking="msg-2"
    )
    assert _last_body(fake_graph) == {
        **ENVELOPE,
        "type": "template",
        "biz_opaque_callback_data": "msg-2",
        "template": {"name": "order_confirmation", "language": {"code": "en_US"}, "components": components},
    }
    assert result.wamid == fake_graph.sent_messages[0].wamid


async def test_template_without_components(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    await gateway.send_template(PHONE, TOKEN, TO, "hello_world", "en_US")
    assert _last_body(fake_graph)["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


async def test_reply_buttons(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    await gateway.send_buttons(
        PHONE,
        TOKEN,
        TO,
        "Reschedule?",
        [("change-button", "Change"), ("cancel-button", "Cancel")],
        header="Workshop",
        footer="Lucky Shrub",
    )
    assert _last_body(fake_graph) == {
        **ENVELOPE,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "header": {"type": "text", "text": "Workshop"},
            "body": {"text": "Reschedule?"},
            "footer": {"text": "Lucky Shrub"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                    {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}},
                ]
            },
        },
    }


async def test_list(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    sections = [
        ListSection(
            "I want it ASAP!",
            (
                ListRow("priority_express", "Priority Mail Express", "Next Day to 2 Days"),
                ListRow("priority_mail", "Priority Mail"),
            ),
        ),
        ListSection("I can wait a bit", (ListRow("media_mail", "Media Mail", "2-8 Days"),)),
    ]
    await gateway.send_list(
        PHONE,
        TOKEN,
        TO,
        "Which shipping option do you prefer?",
        "Shipping Options",
        sections,
        header="Choose Shipping Option",
        footer="Lucky Shrub",
    )
    assert _last_body(fake_graph)["interactive"] == {
        "type": "list",
        "header": {"type": "text", "text": "Choose Shipping Option"},
        "body": {"text": "Which shipping option do you prefer?"},
        "footer": {"text": "Lucky Shrub"},
        "action": {
            "button": "Shipping Options",
            "sections": [
                {
                    "title": "I want it ASAP!",
                    "rows": [
                        {
                            "id": "priority_express",
                            "title": "Priority Mail Express",
                            "description": "Next Day to 2 Days",
                        },
                        {"id": "priority_mail", "title": "Priority Mail"},
                    ],
                },
                {
                    "title": "I can wait a bit",
                    "rows": [{"id": "media_mail", "title": "Media Mail", "description": "2-8 Days"}],
                },
            ],
        },
    }


@pytest.mark.parametrize(
    ("kind", "caption", "filename", "expected"),
    [
        (
            "image",
            "The best succulent ever?",
            None,
            {"link": "https://cdn.example/a.png", "caption": "The best succulent ever?"},
        ),
        (
            "document",
            "Your order",
            "order_abc123.pdf",
            {"link": "https://cdn.example/a.png", "caption": "Your order", "filename": "order_abc123.pdf"},
        ),
        ("video", None, None, {"link": "https://cdn.example/a.png"}),
        ("audio", "ignored", "ignored.ogg", {"link": "https://cdn.example/a.png"}),
    ],
)
async def test_media(
    gateway: AiohttpWhatsAppGateway,
    fake_graph: FakeGraphServer,
    kind: Any,
    caption: str | None,
    filename: str | None,
    expected: dict[str, str],
) -> None:
    await gateway.send_media(PHONE, TOKEN, TO, kind, "https://cdn.example/a.png", caption, filename)
    assert _last_body(fake_graph) == {**ENVELOPE, "type": kind, kind: expected}


async def test_bsuid_recipient(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    result = await gateway.send_text(PHONE, TOKEN, "US.13491208655302741918", "hi")
    body = _last_body(fake_graph)
    assert "to" not in body and body["recipient"] == "US.13491208655302741918"
    assert result.wa_id is None


async def test_mark_read(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    await gateway.mark_read(PHONE, TOKEN, "wamid.incoming")
    assert fake_graph.marked_read == [(PHONE, "wamid.incoming")]
    (request,) = fake_graph.requests
    assert request.json == {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.incoming"}
    assert fake_graph.sent_messages == []


async def test_get_phone_number(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    details = await gateway.get_phone_number(PHONE, TOKEN)
    assert details == PhoneNumberDetails(
        id=PHONE,
        display_phone_number="15550783881",
        verified_name="Lucky Shrub",
        quality_rating="GREEN",
        code_verification_status="VERIFIED",
        status="CONNECTED",
        throughput_level="STANDARD",
    )
    (request,) = fake_graph.requests
    assert (request.method, request.path) == ("GET", f"/v25.0/{PHONE}")
    assert parse_qs(request.query)["fields"][0].startswith("id,display_phone_number,")


async def test_every_send_gets_a_unique_wamid(
    gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer
) -> None:
    results = [await gateway.send_text(PHONE, TOKEN, TO, f"n{index}") for index in range(20)]
    assert len({result.wamid for result in results}) == 20
    assert [sent.wamid for sent in fake_graph.sent_messages] == [result.wamid for result in results]


async def test_version_without_v_prefix(fake_graph: FakeGraphServer, graph_session: Any) -> None:
    gateway = AiohttpWhatsAppGateway(graph_session, base_url=fake_graph.base_url + "/", api_version="24.0")
    await gateway.send_text(PHONE, TOKEN, TO, "hi")
    assert fake_graph.requests[0].path == f"/v24.0/{PHONE}/messages"
