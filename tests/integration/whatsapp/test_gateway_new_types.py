"""Reactions, locations, contacts, media by id, media headers, read + typing and media uploads reach the fake Graph
API over real HTTP in the shapes of Meta's documented examples (the fake validates each shape like Meta)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.whatsapp import AiohttpWhatsAppGateway
from application.ports.whatsapp import GraphRejected, Location, MediaHeader
from tests.fake_graph import FakeGraphServer
from tests.integration.whatsapp.conftest import PHONE, TOKEN

pytestmark = pytest.mark.integration
TO = "16505551234"
ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+16505551234"}


def _raw(fake: FakeGraphServer) -> Any:
    """The last request's body exactly as received (key order included)."""
    return fake.requests[-1].json


async def test_reaction_matches_metas_example(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    wamid = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA="
    await gateway.send_reaction(PHONE, TOKEN, TO, wamid, "\U0001F600", tracking="m-1")
    assert json.dumps(_raw(fake_graph)) == json.dumps({
        **ENVELOPE, "type": "reaction", "reaction": {"message_id": wamid, "emoji": "\U0001F600"},
        "biz_opaque_callback_data": "m-1"})


async def test_location_sends_decimal_degrees_as_strings(gateway: AiohttpWhatsAppGateway,
                                                        fake_graph: FakeGraphServer) -> None:
    place = Location(latitude=37.44216251868683, longitude=-122.16153582049394, name="Philz Coffee",
                     address="101 Forest Ave, Palo Alto, CA 94301")
    await gateway.send_location(PHONE, TOKEN, TO, place, reply_to="wamid.question")
    assert _raw(fake_graph) == {**ENVELOPE, "type": "location", "location": {
        "latitude": "37.44216251868683", "longitude": "-122.16153582049394", "name": "Philz Coffee",
        "address": "101 Forest Ave, Palo Alto, CA 94301"}, "context": {"message_id": "wamid.question"}}
    assert list(_raw(fake_graph)["location"]) == ["latitude", "longitude", "name", "address"]


async def test_contacts_are_sent_as_a_list_of_cards(gateway: AiohttpWhatsAppGateway,
                                                    fake_graph: FakeGraphServer) -> None:
    card = {"name": {"formatted_name": "Barbara J. Johnson", "first_name": "Barbara", "last_name": "Johnson"},
            "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME"},
                       {"phone": "+1 (650) 555-1234", "type": "WORK", "wa_id": "16505551234"}],
            "emails": [{"email": "bjohnson@luckyshrub.com", "type": "WORK"}],
            "org": {"company": "Lucky Shrub", "department": "Legal", "title": "Lead Counsel"},
            "birthday": "1999-01-23"}
    await gateway.send_contacts(PHONE, TOKEN, TO, [card])
    assert _raw(fake_graph) == {**ENVELOPE, "type": "contacts", "contacts": [card]}


async def test_a_contact_card_without_formatted_name_is_refused_like_meta(
        gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    with pytest.raises(GraphRejected) as caught:
        await gateway.send_contacts(PHONE, TOKEN, TO, [{"name": {"first_name": "Ana"}}])
    assert caught.value.graph_code == 131008


@pytest.mark.parametrize(("kind", "caption", "filename", "expected"), [
    ("image", "The best succulent ever?", None, {"id": "1479537139650973", "caption": "The best succulent ever?"}),
    ("document", "Your order confirmation (PDF)", "order_abc123.pdf",
     {"id": "1479537139650973", "caption": "Your order confirmation (PDF)", "filename": "order_abc123.pdf"}),
    ("audio", "ignored", None, {"id": "1479537139650973"}),
    ("sticker", None, None, {"id": "1479537139650973"}),
])
async def test_media_by_uploaded_id(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer, kind: Any,
                                    caption: str | None, filename: str | None, expected: dict[str, str]) -> None:
    await gateway.send_media(PHONE, TOKEN, TO, kind, None, caption, filename, media_id="1479537139650973")
    assert _raw(fake_graph) == {**ENVELOPE, "type": kind, kind: expected}


async def test_reply_buttons_with_an_image_header_match_metas_example(
        gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    body = ("Hi Pablo! Your gardening workshop is scheduled for 9am tomorrow. Use the buttons if you need to "
            "reschedule. Thank you!")
    await gateway.send_buttons(PHONE, TOKEN, TO, body, [("change-button", "Change"), ("cancel-button", "Cancel")],
                               MediaHeader(kind="image", media_id="2762702990552401"),
                               "Lucky Shrub: Your gateway to succulents!\u2122")
    expected = {**ENVELOPE, "type": "interactive", "interactive": {
        "type": "button", "header": {"type": "image", "image": {"id": "2762702990552401"}}, "body": {"text": body},
        "footer": {"text": "Lucky Shrub: Your gateway to succulents!\u2122"},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "change-button", "title": "Change"}},
                               {"type": "reply", "reply": {"id": "cancel-button", "title": "Cancel"}}]}}}
    assert json.dumps(_raw(fake_graph)) == json.dumps(expected)


@pytest.mark.parametrize("header", [MediaHeader(kind="video", link="https://cdn.example/clip.mp4"),
                                    MediaHeader(kind="document", media_id="123", filename="menu.pdf")])
async def test_video_and_document_headers(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer,
                                          header: MediaHeader) -> None:
    await gateway.send_buttons(PHONE, TOKEN, TO, "Pick", [("a", "A")], header)
    sent = _raw(fake_graph)["interactive"]["header"]
    media = {"link": header.link} if header.link else {"id": header.media_id, "filename": "menu.pdf"}
    assert sent == {"type": header.kind, header.kind: media}


async def test_read_with_the_typing_indicator(gateway: AiohttpWhatsAppGateway, fake_graph: FakeGraphServer) -> None:
    wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA"
    await gateway.mark_read(PHONE, TOKEN, wamid, typing=True)
    assert json.dumps(_raw(fake_graph)) == json.dumps({"messaging_product": "whatsapp", "status": "read",
                                                       "message_id": wamid, "typing_indicator": {"type": "text"}})
    assert fake_graph.typing_shown == [(PHONE, wamid)] and fake_graph.marked_read == [(PHONE, wamid)]


async def test_media_upload_is_multipart_with_product_type_and_file(gateway: AiohttpWhatsAppGateway,
                                                                   fake_graph: FakeGraphServer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    media_id = await gateway.upload_media(PHONE, TOKEN, png, "image/png", "aloe.png")
    uploaded = fake_graph.uploaded_media[media_id]
    assert (uploaded.phone_number_id, uploaded.mime_type, uploaded.filename, uploaded.content) == (
        PHONE, "image/png", "aloe.png", png)
    request = fake_graph.requests[-1]
    assert (request.method, request.path, request.status) == ("POST", f"/v25.0/{PHONE}/media", 200)
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")


async def test_an_unsupported_upload_is_refused_with_131053(gateway: AiohttpWhatsAppGateway,
                                                           fake_graph: FakeGraphServer) -> None:
    with pytest.raises(GraphRejected) as caught:
        await gateway.upload_media(PHONE, TOKEN, b"GIF89a", "image/gif", "a.gif")
    assert caught.value.graph_code == 131053 and fake_graph.uploaded_media == {}
