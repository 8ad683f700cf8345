"""What POST /whatsapp/send may queue: WhatsApp's limits on the new types, and the stored content."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.use_cases.whatsapp.message_content import SendMessageCommand, build_content
from domain.errors import InvalidValue

pytestmark = pytest.mark.unit
WAMID = "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQUZCMTY0MDc2MUYwNzBDNTY5MAA="


def content(**fields: Any) -> dict[str, Any]:
    return build_content(SendMessageCommand(to="16505551234", **fields))


def test_media_by_id_or_link_with_caption_and_filename() -> None:
    assert content(type="image", media={"id": "1479537139650973", "caption": "Hi"}) == {
        "media_id": "1479537139650973", "caption": "Hi"}
    assert content(type="document", media={"link": "https://cdn.example/a.pdf", "filename": "a.pdf"},
                   reply_to=WAMID) == {"link": "https://cdn.example/a.pdf", "filename": "a.pdf", "reply_to": WAMID}


@pytest.mark.parametrize("media", [None, {}, {"id": "1", "link": "https://x.io/a"}, {"id": "abc"},
                                   {"link": "ftp://x.io/a"}, {"id": "1", "filename": "a.png"}])
def test_media_needs_exactly_one_valid_reference(media: dict[str, Any] | None) -> None:
    with pytest.raises(InvalidValue):
        content(type="image", media=media)


@pytest.mark.parametrize("kind", ["audio", "sticker"])
def test_audio_and_stickers_take_no_caption(kind: str) -> None:
    with pytest.raises(InvalidValue):
        content(type=kind, media={"id": "1", "caption": "no"})


def test_button_headers_and_footer() -> None:
    stored = content(type="interactive", message="Pick", buttons=[("a", "A")], footer="Lucky Shrub",
                     header={"type": "video", "video": {"link": "https://cdn.example/v.mp4"}})
    assert stored["header"] == {"type": "video", "link": "https://cdn.example/v.mp4"}
    assert content(type="interactive", message="Pick", buttons=[("a", "A")],
                   header={"type": "text", "text": "Menu"})["header"] == {"type": "text", "text": "Menu"}
    for header in ({"type": "audio"}, {"type": "image"}, {"type": "text", "text": "x" * 61},
                   {"type": "image", "image": {"id": "1", "caption": "no"}}):
        with pytest.raises(InvalidValue):
            content(type="interactive", message="Pick", buttons=[("a", "A")], header=header)


def test_reaction_location_contacts() -> None:
    assert content(type="reaction", reaction={"message_id": WAMID, "emoji": ""}) == {"message_id": WAMID,
                                                                                       "emoji": ""}
    assert content(type="location", location={"latitude": -23.55, "longitude": -46.63, "name": "Paulista"}) == {
        "latitude": -23.55, "longitude": -46.63, "name": "Paulista"}
    card = {"name": {"formatted_name": "Ana"}}
    assert content(type="contacts", contacts=[card]) == {"contacts": [card]}
    with pytest.raises(InvalidValue):
        content(type="contacts", contacts=[])
    with pytest.raises(InvalidValue):
        content(type="reaction", reaction={"message_id": "has spaces", "emoji": "x"})


@given(st.floats(allow_nan=False), st.floats(allow_nan=False))
def test_coordinates_outside_the_globe_are_refused(latitude: float, longitude: float) -> None:
    valid = -90 <= latitude <= 90 and -180 <= longitude <= 180
    try:
        stored = content(type="location", location={"latitude": latitude, "longitude": longitude})
    except InvalidValue:
        assert not valid
    else:
        assert valid and stored == {"latitude": latitude, "longitude": longitude}


def test_an_unknown_type_is_refused() -> None:
    with pytest.raises(InvalidValue):
        content(type="poll", message="?")
