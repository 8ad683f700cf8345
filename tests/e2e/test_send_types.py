"""Media uploads, media by id, reply-button media headers, reactions, locations, contacts, replies in context and
read receipts with the typing indicator: through the real routes, the real worker and the fake Graph API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.e2e.flows_support import edge, node, publish
from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    contact_by_wa_id,
    contact_messages,
    deliver,
    org_with_number,
    random_wa_id,
    send,
    sends_of,
    wait_processed,
    wait_status,
    wait_until,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def window(client: httpx.AsyncClient, org: WaOrg, database_url: str, wa_id: str) -> str:
    """The contact writes (opening the 24-hour window); the wamid of what it wrote."""
    wamid = builders.new_wamid()
    body = await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "hello", wamid=wamid))
    assert await wait_processed(database_url, body) == {"inbound": 1}
    return wamid


async def upload(client: httpx.AsyncClient, org: WaOrg, content: bytes, filename: str, mime: str,
                 **fields: str) -> httpx.Response:
    return await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/media", headers=org.headers,
                             files={"file": (filename, content, mime)}, data=fields)


async def uploaded(client: httpx.AsyncClient, org: WaOrg, upload_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        found = (await client.get(f"{API}/whatsapp/numbers/{org.number['id']}/media/{upload_id}",
                                  headers=org.headers)).json()
        return dict(found) if found["status"] != "queued" else None

    return await wait_until(done, timeout=10, what="the upload to finish")


async def test_an_uploaded_image_is_sent_by_its_media_id(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    started = await upload(client, org, PNG, "aloe.png", "image/png")
    assert started.status_code == 202, started.text
    assert (started.json()["status"], started.json()["kind"], started.json()["media_id"]) == ("queued", "image", None)
    assert started.headers["location"] == f"/api/v1/whatsapp/numbers/{org.number['id']}/media/{started.json()['id']}"
    done = await uploaded(client, org, started.json()["id"])
    assert done["status"] == "uploaded" and done["size_bytes"] == len(PNG)
    at_meta = fake_graph.uploaded_media[done["media_id"]]
    assert (at_meta.phone_number_id, at_meta.mime_type, at_meta.filename, at_meta.content) == (
        org.phone_number_id, "image/png", "aloe.png", PNG)
    wa_id = random_wa_id()
    await window(client, org, database_url, wa_id)
    response = await send(client, org, wa_id, type="image", image={"id": done["media_id"],
                                                                   "caption": "The best succulent ever?"})
    assert response.status_code == 202, response.text
    await wait_status(client, org, response.json()["message_id"], "sent")
    [sent] = sends_of(fake_graph, response.json()["message_id"])
    assert sent.body["image"] == {"id": done["media_id"], "caption": "The best succulent ever?"}


async def test_a_document_upload_with_a_type_field_and_refusals(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    started = await upload(client, org, PDF, "order_abc123.pdf", "application/octet-stream", type="application/pdf")
    assert started.status_code == 202, started.text
    assert (await uploaded(client, org, started.json()["id"]))["kind"] == "document"
    gif = await upload(client, org, b"GIF89a....", "a.gif", "image/gif")
    assert_error_shape(gif, 422, "unsupported_media")
    big = await upload(client, org, b"\xff\xd8" + b"0" * (5 * 1024 * 1024), "huge.jpg", "image/jpeg")
    assert_error_shape(big, 413, "media_too_large")
    nothing = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/media", headers=org.headers,
                                json={"file": "x"})
    assert_error_shape(nothing, 422, "invalid_upload")


async def test_media_upload_roles_and_tenancy(client: httpx.AsyncClient, org: WaOrg) -> None:
    viewer = await add_member(client, org.admin, "viewer")
    refused = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/media", headers=viewer.headers,
                                files={"file": ("a.png", PNG, "image/png")})
    assert_error_shape(refused, 403, "permission_denied")
    agent = await add_member(client, org.admin, "agent")
    mine = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/media", headers=agent.headers,
                             files={"file": ("a.png", PNG, "image/png")})
    assert mine.status_code == 202, mine.text
    polled = f"{API}/whatsapp/numbers/{org.number['id']}/media/{mine.json()['id']}"
    assert (await client.get(polled, headers=viewer.headers)).status_code == 200
    stranger = await register(client)
    theirs = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/media", headers=stranger.headers,
                               files={"file": ("a.png", PNG, "image/png")})
    assert_error_shape(theirs, 404, "whatsapp_number_not_found")
    peek = await client.get(polled, headers=stranger.headers)
    assert_error_shape(peek, 404, "media_upload_not_found")


async def test_reply_buttons_with_an_image_header_footer_and_context(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id = random_wa_id()
    asked = await window(client, org, database_url, wa_id)
    body = "Hi Pablo! Your gardening workshop is scheduled for 9am tomorrow."
    response = await send(client, org, wa_id, type="interactive", message=body,
                          buttons=[{"id": "change-button", "title": "Change"},
                                   {"id": "cancel-button", "title": "Cancel"}],
                          header={"type": "image", "image": {"id": "2762702990552401"}},
                          footer="Lucky Shrub: Your gateway to succulents!", context={"message_id": asked})
    assert response.status_code == 202, response.text
    await wait_status(client, org, response.json()["message_id"], "sent")
    [sent] = sends_of(fake_graph, response.json()["message_id"])
    assert json.dumps(sent.body["interactive"]) == json.dumps({
        "type": "button", "header": {"type": "image", "image": {"id": "2762702990552401"}}, "body": {"text": body},
        "footer": {"text": "Lucky Shrub: Your gateway to succulents!"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                               {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}}]}})
    assert sent.context_wamid == asked


async def test_reaction_location_and_contacts(client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer,
                                              database_url: str) -> None:
    wa_id = random_wa_id()
    asked = await window(client, org, database_url, wa_id)
    card = {"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara", "last_name": "Johnson"},
            "phones": [{"phone": "+1 (650) 555-1234", "type": "WORK", "wa_id": "16505551234"}],
            "emails": [{"email": "bjohnson@luckyshrub.com", "type": "WORK"}]}
    requests = [
        {"type": "reaction", "reaction": {"message_id": asked, "emoji": "\U0001F44D"}},
        {"type": "location", "location": {"latitude": 37.44216251868683, "longitude": -122.16153582049394,
                                          "name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto, CA 94301"}},
        {"type": "contacts", "contacts": [card], "context": {"message_id": asked}},
    ]
    ids = []
    for request in requests:
        response = await send(client, org, wa_id, **request)
        assert response.status_code == 202, response.text
        ids.append(response.json()["message_id"])
    for message_id in ids:
        await wait_status(client, org, message_id, "sent")
    reaction, location, contacts = (sends_of(fake_graph, m)[0].body for m in ids)
    assert reaction["reaction"] == {"message_id": asked, "emoji": "\U0001F44D"} and "context" not in reaction
    assert location["location"] == {"latitude": "37.44216251868683", "longitude": "-122.16153582049394",
                                    "name": "Philz Coffee", "address": "101 Forest Ave, Palo Alto, CA 94301"}
    assert contacts["contacts"] == [card] and contacts["context"] == {"message_id": asked}
    assert [sends_of(fake_graph, m)[0].at for m in ids] == sorted(sends_of(fake_graph, m)[0].at for m in ids)


@pytest.mark.parametrize(("body", "field"), [
    ({"type": "image", "image": {"id": "1", "link": "https://example.com/a.png"}}, None),
    ({"type": "image"}, None),
    ({"type": "audio", "audio": {"id": "1", "caption": "no"}}, None),
    ({"type": "location", "location": {"latitude": 91, "longitude": 0}}, "body.location.latitude"),
    ({"type": "contacts", "contacts": [{"name": {"first_name": "Ana"}}]}, "body.contacts.0.name.formatted_name"),
    ({"type": "reaction", "reaction": {"message_id": "not a wamid!", "emoji": "x"}}, None),
    ({"type": "interactive", "message": "Pick", "buttons": [{"id": "a", "title": "A"}],
      "header": {"type": "image", "text": "no media"}}, None),
])
async def test_bad_new_types_are_422_and_queue_nothing(client: httpx.AsyncClient, org: WaOrg, database_url: str,
                                                        body: dict[str, Any], field: str | None) -> None:
    wa_id = random_wa_id()
    await window(client, org, database_url, wa_id)
    response = await send(client, org, wa_id, **body)
    assert response.status_code == 422, response.text
    if field is not None:
        assert field in response.text
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    assert [m["direction"] for m in await contact_messages(client, org, contact["id"])] == ["inbound"]


async def test_media_outside_the_window_is_refused(client: httpx.AsyncClient, org: WaOrg) -> None:
    response = await send(client, org, random_wa_id(), type="image", image={"link": "https://example.com/a.png"})
    assert_error_shape(response, 400, "outside_customer_service_window")


async def test_mark_read_with_the_typing_indicator(client: httpx.AsyncClient, org: WaOrg,
                                                   fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id = random_wa_id()
    wamid = await window(client, org, database_url, wa_id)
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    [inbound] = await contact_messages(client, org, contact["id"])
    response = await client.post(f"{API}/whatsapp/messages/{inbound['id']}/read", headers=org.headers,
                                 json={"typing_indicator": True})
    assert response.status_code == 202, response.text
    await wait_until(lambda: _shown(fake_graph, org, wamid), what="the read receipt with typing")
    [request] = [r for r in fake_graph.requests if isinstance(r.json, dict) and r.json.get("message_id") == wamid]
    assert json.dumps(request.json) == json.dumps({"messaging_product": "whatsapp", "status": "read",
                                                   "message_id": wamid, "typing_indicator": {"type": "text"}})
    outbound = await send(client, org, wa_id, message="On it!")
    refused = await client.post(f"{API}/whatsapp/messages/{outbound.json()['message_id']}/read", headers=org.headers)
    assert_error_shape(refused, 400, "not_an_inbound_message")
    stranger = await register(client)
    hidden = await client.post(f"{API}/whatsapp/messages/{inbound['id']}/read", headers=stranger.headers)
    assert_error_shape(hidden, 404, "message_not_found")


async def _shown(fake: FakeGraphServer, org: WaOrg, wamid: str) -> bool:
    return (org.phone_number_id, wamid) in fake.typing_shown


async def test_a_flow_message_node_sends_an_uploaded_document_by_its_id(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    nodes = [node("start", "start"),
             node("menu", "message", text="Our menu, {{contact.name}}", media_type="document",
                  media_id="1376223850470843", filename="menu.pdf")]
    await publish(client, org, nodes, [edge("start", "menu")], {"type": "keyword", "keywords": ["menu"]},  # type: ignore[arg-type]
                  name="Menu")
    wa_id = random_wa_id()
    await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "menu", name="Ana"))

    async def document() -> list[Any]:
        return [s for s in fake_graph.sent_messages if s.recipient == wa_id and s.type == "document"]

    [sent] = await wait_until(document, timeout=10, what="the flow's document")
    assert sent.body["document"] == {"id": "1376223850470843", "caption": "Our menu, Ana", "filename": "menu.pdf"}
