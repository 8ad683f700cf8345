"""Inbound contents on fakes through IngestWebhook + ProcessInbox: every type keeps what it carries; reactions,
edits and revokes change their target instead of being stored, in any batch order, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.channel import Message
from tests.fake_graph import builders
from tests.fixtures import whatsapp_content_samples as s
from tests.unit.application.test_whatsapp_process_inbox import PNID, USER, World, at

pytestmark = pytest.mark.unit

OTHER = "5511912345678"


def only(world: World) -> Message:
    [message] = world.inbound()
    return message


@pytest.mark.parametrize(("build", "kind", "content"), [
    (s.image, "image", {"text": "Este aqui", "media_id": "1479537139650973", "media": {
        "id": "1479537139650973", "mime_type": "image/jpeg", "sha256": "zWr4fPdLPTtx9QkPr2kOeJ/OcvrNTQ0e7u1Yq0yaaCI=",
        "caption": "Este aqui"}}),
    (s.voice, "audio", {"media_id": "3185418868414217", "media": {
        "id": "3185418868414217", "mime_type": "audio/ogg; codecs=opus",
        "sha256": "7nQmbyR5XWcHnJU5BxtfE3DJ1Z8vnwnFQXhBsD0vK2M=", "voice": True}}),
    (s.document, "document", {"text": "Nota fiscal", "media_id": "2270563953301423", "media": {
        "id": "2270563953301423", "mime_type": "application/pdf", "filename": "NF-e 3519.pdf",
        "sha256": "Bsf5JvYTcsXOuw2YjFsmN4P2lD0o1k4Bu0x2kDcCTNs=", "caption": "Nota fiscal"}}),
    (s.sticker, "sticker", {"media_id": "1228194498513451", "media": {
        "id": "1228194498513451", "mime_type": "image/webp", "sha256": "oDH1Ys1pU0yGxZVQ8q3cVbUbPEbhUozw9WsWBk1z7Mw=",
        "animated": True}}),
    (s.location, "location", {"text": "MASP, Av. Paulista, 1578 - Bela Vista, S\u00e3o Paulo - SP", "location": {
        "latitude": -23.561414, "longitude": -46.655881, "name": "MASP",
        "address": "Av. Paulista, 1578 - Bela Vista, S\u00e3o Paulo - SP", "url": "https://masp.org.br"}}),
    (s.order, "order", {"text": "Quero estes dois, por favor", "order": s.ORDER}),
    (s.list_reply, "interactive", {"text": "Priority Mail Express", "reply_id": "priority_express", "list_reply": {
        "id": "priority_express", "title": "Priority Mail Express", "description": "Next Day to 2 Days"}}),
    (s.flow_reply, "interactive", {"text": "Sent", "nfm_reply": {"name": "flow", "body": "Sent",
                                                                 "response": s.FLOW_RESPONSE}}),
    (s.ad_text, "text", {"text": "Oi! Vi o an\u00fancio", "referral": s.REFERRAL}),
    (s.frequently_forwarded, "text", {"text": "Corrente: repasse!", "forwarded": True,
                                      "frequently_forwarded": True}),
    (s.forwarded, "text", {"text": "Olha isso", "forwarded": True}),
])
async def test_each_type_keeps_what_it_carries(build: Any, kind: str, content: dict[str, Any]) -> None:
    world = World()
    assert await world.deliver(build(PNID, USER)) == {"inbound": 1}
    message = only(world)
    assert (message.type, message.content) == (kind, content)


async def test_shared_contacts_keep_every_vcard_field() -> None:
    world = World()
    assert await world.deliver(s.shared_contacts(PNID, USER)) == {"inbound": 1}
    message = only(world)
    assert message.type == "contacts" and message.content["text"] == "Ana Souza, Bruno Lima"
    first, second = message.content["contacts"]
    assert first == s.VCARD and second["phones"][0]["wa_id"] == "5521998887766"


async def test_edit_replaces_the_content_and_keeps_the_history_and_runs_nothing() -> None:
    world = World()
    original = s.text(PNID, USER, "Quero 3 vasos", timestamp=1_750_000_000)
    await world.deliver(original)
    edit = builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "Quero 4 vasos"},
                                 timestamp=1_750_000_060)
    assert await world.deliver(edit) == {"edits": 1}
    message = only(world)
    assert message.content["text"] == "Quero 4 vasos"
    assert message.content["edited_at"] == at(1_750_000_060).isoformat()
    assert message.content["edits"] == [{"text": "Quero 3 vasos", "since": at(1_750_000_000).isoformat(),
                                         "edit_wamid": None}]
    second = builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "Quero 5 vasos"},
                                   timestamp=1_750_000_120)
    assert await world.deliver(second) == {"edits": 1}
    assert [e["text"] for e in only(world).content["edits"]] == ["Quero 3 vasos", "Quero 4 vasos"]
    assert only(world).content["text"] == "Quero 5 vasos"
    # the same edit delivered again (another body) changes nothing
    edit_again = builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "Quero 4 vasos"},
                                       timestamp=1_750_000_060, wamid=s.wamid_of(edit), name="Other name")
    assert await world.deliver(edit_again) == {"duplicates": 1}
    assert len(only(world).content["edits"]) == 2


async def test_an_older_edit_arriving_late_only_joins_the_history() -> None:
    world = World()
    original = s.text(PNID, USER, "v1", timestamp=1_750_000_000)
    await world.deliver(original)
    await world.deliver(builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "v3"},
                                              timestamp=1_750_000_200))
    await world.deliver(builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "v2"},
                                              timestamp=1_750_000_100))
    content = only(world).content
    assert content["text"] == "v3" and [e["text"] for e in content["edits"]] == ["v1", "v2"]


async def test_a_caption_edit_keeps_the_media() -> None:
    world = World()
    original = s.image(PNID, USER, caption="antes", timestamp=1_750_000_000)
    await world.deliver(original)
    await world.deliver(builders.inbound_edit(PNID, USER, s.wamid_of(original), "image", {
        "caption": "depois", "mime_type": "image/jpeg", "sha256": "zWr4fPdLPTtx9QkPr2kOeJ/OcvrNTQ0e7u1Yq0yaaCI=",
        "id": "1479537139650973"}, timestamp=1_750_000_030))
    content = only(world).content
    assert (content["text"], content["media_id"], content["media"]["caption"]) == ("depois", "1479537139650973",
                                                                                  "depois")
    assert content["edits"][0]["text"] == "antes"


async def test_revoke_marks_deleted_drops_the_content_and_keeps_reactions() -> None:
    world = World()
    original = s.location(PNID, USER, timestamp=1_750_000_000)
    await world.deliver(original)
    await world.deliver(builders.inbound_reaction(PNID, USER, s.wamid_of(original), "\U0001f4cd",
                                                  timestamp=1_750_000_010))
    revoke = builders.inbound_revoke(PNID, USER, s.wamid_of(original), timestamp=1_750_000_020)
    assert await world.deliver(revoke) == {"revokes": 1}
    message = only(world)
    assert message.deleted_at == at(1_750_000_020) and message.type == "location"
    assert set(message.content) == {"deleted", "reactions"} and message.content["deleted"] is True
    assert await world.deliver(builders.inbound_revoke(PNID, USER, s.wamid_of(original), wamid=s.wamid_of(revoke),
                                                       timestamp=1_750_000_021)) == {"duplicates": 1}
    edit = builders.inbound_edit(PNID, USER, s.wamid_of(original), "text", {"body": "x"}, timestamp=1_750_000_030)
    assert await world.deliver(edit) == {"duplicates": 1}  # nothing to edit any more
    assert only(world).content.keys() == {"deleted", "reactions"}


async def test_reactions_on_an_outbound_message_replace_and_remove() -> None:
    world = World()
    await world.deliver(s.text(PNID, USER, "oi", timestamp=1_750_000_000))
    ours = world.queue_outbound(wamid="wamid.ours", status="sent")
    thumbs = builders.inbound_reaction(PNID, USER, "wamid.ours", "\U0001f44d", timestamp=1_750_000_100)
    assert await world.deliver(thumbs) == {"reactions": 1}
    assert world.store.messages[ours.id].content["reactions"] == [
        {"by": "contact", "emoji": "\U0001f44d", "at": at(1_750_000_100).isoformat(), "wamid": s.wamid_of(thumbs)}]
    assert len(world.inbound()) == 1  # not stored as a message
    heart = builders.inbound_reaction(PNID, USER, "wamid.ours", "\u2764\ufe0f", timestamp=1_750_000_200)
    await world.deliver(heart)
    assert [r["emoji"] for r in world.store.messages[ours.id].content["reactions"]] == ["\u2764\ufe0f"]
    stale = builders.inbound_reaction(PNID, USER, "wamid.ours", "\U0001f44e", timestamp=1_750_000_150)
    assert await world.deliver(stale) == {"duplicates": 1}  # older than the kept one
    removed = builders.inbound_reaction(PNID, USER, "wamid.ours", "", timestamp=1_750_000_300)
    assert await world.deliver(removed) == {"reactions": 1}
    assert "reactions" not in world.store.messages[ours.id].content


async def test_unknown_or_foreign_targets_are_counted_and_change_nothing() -> None:
    world = World()
    mine = s.text(PNID, USER, "meu", timestamp=1_750_000_000)
    await world.deliver(mine)
    assert await world.deliver(builders.inbound_reaction(PNID, USER, "wamid.never", "\U0001f44d")) == {
        "unknown_target": 1}
    assert await world.deliver(builders.inbound_edit(PNID, USER, "wamid.never", "text", {"body": "x"})) == {
        "unknown_target": 1}
    assert await world.deliver(builders.inbound_revoke(PNID, USER, "wamid.never")) == {"unknown_target": 1}
    # another contact may neither edit, revoke nor react to this contact's message
    await world.deliver(s.text(PNID, OTHER, "eu existo", timestamp=1_750_000_001))
    for payload in (builders.inbound_edit(PNID, OTHER, s.wamid_of(mine), "text", {"body": "hacked"}),
                    builders.inbound_revoke(PNID, OTHER, s.wamid_of(mine)),
                    builders.inbound_reaction(PNID, OTHER, s.wamid_of(mine), "\U0001f608")):
        assert await world.deliver(payload) == {"unknown_target": 1}
    stored = next(m for m in world.inbound() if m.wamid == s.wamid_of(mine))
    assert stored.content == {"text": "meu"} and stored.deleted_at is None


async def test_a_reaction_in_the_same_batch_as_its_message_finds_it_and_opens_no_window() -> None:
    world = World()
    message = s.text(PNID, USER, "foto?", timestamp=1_750_000_000)
    reaction = builders.inbound_reaction(PNID, USER, s.wamid_of(message), "\U0001f64f", timestamp=1_750_000_000)
    assert await world.deliver(builders.batch(reaction, message)) == {"inbound": 1, "reactions": 1}
    assert only(world).content["reactions"][0]["emoji"] == "\U0001f64f"
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1_750_000_000)
    world.clock.advance(seconds=10)
    later = builders.inbound_reaction(PNID, USER, s.wamid_of(message), "\U0001f44d",
                                      timestamp=at(1_750_000_000) + timedelta(hours=30))
    assert await world.deliver(later) == {"reactions": 1}
    [conversation] = world.store.conversations.values()
    assert conversation.last_inbound_at == at(1_750_000_000)  # a reaction does not reopen the window


async def test_a_caption_edit_without_the_media_keeps_the_original_media() -> None:
    world = World()
    original = s.image(PNID, USER, caption="antes", timestamp=1_750_000_000)
    await world.deliver(original)
    await world.deliver(builders.inbound_edit(PNID, USER, s.wamid_of(original), "image", {"caption": "depois"},
                                              timestamp=1_750_000_030))
    content = only(world).content
    assert (content["text"], content["media_id"]) == ("depois", "1479537139650973")
    assert content["media"]["caption"] == "depois" and content["media"]["mime_type"] == "image/jpeg"
