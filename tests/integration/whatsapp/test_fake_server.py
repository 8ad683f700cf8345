"""The fake Graph API itself: auth rules, throughput ceiling, records, both ways of running it."""

from __future__ import annotations

import aiohttp
import httpx
import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from application.ports.whatsapp import GraphRateLimited
from tests.fake_graph import FakeGraphServer
from tests.integration.whatsapp.conftest import PHONE, TOKEN

pytestmark = pytest.mark.integration
TO = "16505551234"
TEXT = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "+16505551234",
    "type": "text",
    "text": {"body": "hi"},
}


async def test_raw_success_answer_has_metas_shape(
    fake_graph: FakeGraphServer, http_client: httpx.AsyncClient
) -> None:
    response = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{PHONE}/messages",
        json=TEXT,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "+16505551234", "wa_id": TO}],
        "messages": [{"id": fake_graph.sent_messages[0].wamid}],
    }


@pytest.mark.parametrize(
    ("headers", "phone", "code", "status"),
    [
        ({}, PHONE, 190, 401),
        ({"Authorization": "Bearer nope"}, PHONE, 190, 401),
        ({"Authorization": f"Basic {TOKEN}"}, PHONE, 190, 401),
        ({"Authorization": "Bearer nope"}, "424242", 190, 401),
        ({"Authorization": f"Bearer {TOKEN}"}, "424242", 100, 400),
    ],
)
async def test_auth_and_unknown_numbers(
    fake_graph: FakeGraphServer,
    http_client: httpx.AsyncClient,
    headers: dict[str, str],
    phone: str,
    code: int,
    status: int,
) -> None:
    response = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{phone}/messages", json=TEXT, headers=headers
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["fbtrace_id"]
    if code == 100:
        assert (error["type"], error["error_subcode"]) == ("GraphMethodException", 33)
    else:
        assert error["type"] == "OAuthException"


async def test_a_second_number_with_its_own_token(
    fake_graph: FakeGraphServer, gateway: AiohttpWhatsAppGateway
) -> None:
    fake_graph.add_number("200000000000001", "token-b", display_phone_number="5511900000000")
    assert (
        await gateway.get_phone_number("200000000000001", "token-b")
    ).display_phone_number == "5511900000000"
    with pytest.raises(Exception) as caught:
        await gateway.send_text("200000000000001", TOKEN, TO, "hi")
    assert getattr(caught.value, "graph_code", None) == 190


async def test_validation_error_shape(fake_graph: FakeGraphServer, http_client: httpx.AsyncClient) -> None:
    response = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{PHONE}/messages",
        json={**TEXT, "messaging_product": None},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 400
    assert response.json()["error"] | {"fbtrace_id": "x"} == {
        "message": "(#131009) Parameter value is not valid",
        "type": "OAuthException",
        "code": 131009,
        "error_data": {"messaging_product": "whatsapp", "details": "messaging_product must be 'whatsapp'."},
        "fbtrace_id": "x",
    }
    missing = dict(TEXT)
    del missing["to"]
    response = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{PHONE}/messages",
        json=missing,
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.json()["error"]["code"] == 131008


async def test_throughput_ceiling_per_number(
    fake_graph: FakeGraphServer, gateway: AiohttpWhatsAppGateway
) -> None:
    fake_graph.max_mps = 3
    accepted, limited = 0, 0
    for index in range(5):
        try:
            await gateway.send_text(PHONE, TOKEN, TO, f"burst {index}")
            accepted += 1
        except GraphRateLimited as error:
            assert error.graph_code == 130429
            limited += 1
    assert (accepted, limited) == (3, 2)
    assert len(fake_graph.sent_messages) == 3


async def test_fail_next_also_hits_mark_read(
    fake_graph: FakeGraphServer, gateway: AiohttpWhatsAppGateway
) -> None:
    fake_graph.fail_next(code=131000)
    with pytest.raises(Exception) as caught:
        await gateway.mark_read(PHONE, TOKEN, "wamid.x")
    assert getattr(caught.value, "graph_code", None) == 131000
    await gateway.mark_read(PHONE, TOKEN, "wamid.x")
    assert fake_graph.marked_read == [(PHONE, "wamid.x")]


async def test_phone_number_fields_are_honoured(
    fake_graph: FakeGraphServer, http_client: httpx.AsyncClient
) -> None:
    response = await http_client.get(
        f"{fake_graph.base_url}/v25.0/{PHONE}",
        params={"fields": "status"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.json() == {"id": PHONE, "status": "CONNECTED"}


async def test_unknown_paths_answer_a_graph_error(
    fake_graph: FakeGraphServer, http_client: httpx.AsyncClient
) -> None:
    response = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{PHONE}/message_templates", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == 2500
    not_multipart = await http_client.post(
        f"{fake_graph.base_url}/v25.0/{PHONE}/media", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert not_multipart.status_code == 400 and not_multipart.json()["error"]["code"] == 100


async def test_reset_forgets_records_and_knobs(
    fake_graph: FakeGraphServer, gateway: AiohttpWhatsAppGateway
) -> None:
    fake_graph.fail_for(TO)
    fake_graph.fail_next(3)
    fake_graph.max_mps = 1
    fake_graph.reset()
    assert fake_graph.requests == [] and fake_graph.max_mps is None
    for _ in range(2):
        await gateway.send_text(PHONE, TOKEN, TO, "hi")
    assert len(fake_graph.sent_messages) == 2


async def test_running_async_serves_on_the_current_loop(graph_session: aiohttp.ClientSession) -> None:
    async with FakeGraphServer.running_async() as fake:
        fake.add_number("300", "token-c", verified_name="Async")
        gateway = AiohttpWhatsAppGateway(graph_session, base_url=fake.base_url)
        assert (await gateway.get_phone_number("300", "token-c")).verified_name == "Async"
        assert fake.base_url.startswith("http://127.0.0.1:")
    with pytest.raises(Exception):  # noqa: B017 - the listener is gone
        await gateway.get_phone_number("300", "token-c")


def test_running_in_a_thread_for_sync_fixtures() -> None:
    with FakeGraphServer.running() as fake:
        fake.add_number("400", "token-d")
        response = httpx.get(f"{fake.base_url}/v25.0/400", headers={"Authorization": "Bearer token-d"})
        assert response.json()["id"] == "400"
        assert fake.requests[0].headers["authorization"] == "<redacted>"


@pytest.mark.parametrize(("to", "wa_id"), [
    ("+55 31 98765-4321", "553187654321"),  # an older Minas Gerais account: Meta answers without the ninth digit
    ("+5511987654321", "5511987654321"),  # Sao Paulo: as written
    ("+553132654321", "553132654321"),  # a landline: no ninth digit to drop
])
async def test_send_answers_metas_canonical_wa_id(fake_graph: FakeGraphServer, http_client: httpx.AsyncClient,
                                                  to: str, wa_id: str) -> None:
    response = await http_client.post(f"{fake_graph.base_url}/v25.0/{PHONE}/messages", json={**TEXT, "to": to},
                                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": to, "wa_id": wa_id}]


async def test_a_bsuid_recipient_is_answered_with_user_id_and_a_malformed_one_refused(
        fake_graph: FakeGraphServer, http_client: httpx.AsyncClient) -> None:
    body = {key: value for key, value in TEXT.items() if key != "to"}
    ok = await http_client.post(f"{fake_graph.base_url}/v25.0/{PHONE}/messages",
                                json={**body, "recipient": "US.13491208655302741918"},
                                headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert ok.json()["contacts"] == [{"input": "US.13491208655302741918", "user_id": "US.13491208655302741918"}]
    bad = await http_client.post(f"{fake_graph.base_url}/v25.0/{PHONE}/messages",
                                 json={**body, "recipient": "not a bsuid"},
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] in (100, 131009)
