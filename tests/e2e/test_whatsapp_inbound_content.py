"""Inbound contents end to end: Meta-shaped webhooks of every type through the signed route and the real worker,
read back over the API; reactions, edits and revokes change their target and never answer a flow."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import structlog

from tests.e2e import flows_support as flows
from tests.e2e.support import create_user, login_as
from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    contact_by_wa_id,
    contact_messages,
    deliver,
    get_message,
    org_with_number,
    random_digits,
    random_wa_id,
    wait_processed,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fixtures import whatsapp_content_samples as s
from tests.helpers import assert_error_shape

pytestmark = pytest.mark.e2e


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph)


async def messages_by_wamid(client: httpx.AsyncClient, org: WaOrg, wa_id: str) -> dict[str, dict[str, Any]]:
    contact = await contact_by_wa_id(client, org, wa_id)
    assert contact is not None
    return {m["wamid"]: m for m in await contact_messages(client, org, contact["id"])}


async def test_every_type_is_stored_with_its_content(client: httpx.AsyncClient, org: WaOrg,
                                                     database_url: str) -> None:
    wa_id, pnid = random_wa_id(), org.phone_number_id
    builds = [s.image, s.voice, s.video, s.document, s.sticker, s.location, s.shared_contacts, s.order,
              s.list_reply, s.flow_reply, s.ad_text, s.frequently_forwarded, s.unsupported]
    payloads = [build(pnid, wa_id, timestamp=1_750_000_000 + i) for i, build in enumerate(builds)]
    body = await deliver(client, builders.batch(*payloads))
    assert await wait_processed(database_url, body) == {"inbound": len(builds)}
    stored = await messages_by_wamid(client, org, wa_id)
    by_kind = {build.__name__: stored[s.wamid_of(p)] for build, p in zip(builds, payloads, strict=True)}
    assert by_kind["voice"]["type"] == "audio" and by_kind["voice"]["content"]["media"]["voice"] is True
    assert by_kind["document"]["content"]["media"]["filename"] == "NF-e 3519.pdf"
    assert by_kind["document"]["content"]["text"] == "Nota fiscal"
    assert by_kind["sticker"]["content"]["media"]["animated"] is True
    assert by_kind["video"]["content"]["media"]["sha256"] == "fq5XTmUj0Zb1oSTqYiIYaVnq1sKRJEXKVgrbDMvRc4U="
    assert by_kind["location"]["content"]["location"]["latitude"] == -23.561414
    assert by_kind["shared_contacts"]["content"]["contacts"][0] == s.VCARD
    assert by_kind["order"]["content"]["order"] == s.ORDER
    assert by_kind["list_reply"]["content"]["list_reply"]["description"] == "Next Day to 2 Days"
    assert by_kind["flow_reply"]["content"]["nfm_reply"]["response"] == s.FLOW_RESPONSE
    assert by_kind["ad_text"]["content"]["referral"] == s.REFERRAL
    assert by_kind["frequently_forwarded"]["content"]["frequently_forwarded"] is True
    assert by_kind["unsupported"]["content"]["errors"][0]["code"] == 131051
    assert all(m["deleted_at"] is None for m in stored.values())


async def test_edits_reactions_and_revokes_in_later_batches(client: httpx.AsyncClient, org: WaOrg,
                                                            database_url: str) -> None:
    wa_id, pnid = random_wa_id(), org.phone_number_id
    first = s.text(pnid, wa_id, "Quero 3 vasos", timestamp=1_750_000_000)
    second = s.image(pnid, wa_id, caption="Este", timestamp=1_750_000_001)
    assert await wait_processed(database_url, await deliver(client, builders.batch(first, second))) == {
        "inbound": 2}
    changes = builders.batch(
        builders.inbound_edit(pnid, wa_id, s.wamid_of(first), "text", {"body": "Quero 4 vasos"},
                              timestamp=1_750_000_060),
        builders.inbound_reaction(pnid, wa_id, s.wamid_of(first), "\U0001f44d", timestamp=1_750_000_061),
        builders.inbound_revoke(pnid, wa_id, s.wamid_of(second), timestamp=1_750_000_062),
        builders.inbound_reaction(pnid, wa_id, "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFjNFQjBDMEU1", "\U0001f44d",
                                  timestamp=1_750_000_063))
    assert await wait_processed(database_url, await deliver(client, changes)) == {
        "edits": 1, "reactions": 1, "revokes": 1, "unknown_target": 1}
    stored = await messages_by_wamid(client, org, wa_id)
    assert len(stored) == 2  # none of them became a message
    edited = await get_message(client, org, stored[s.wamid_of(first)]["id"])
    assert edited["content"]["text"] == "Quero 4 vasos"
    assert [e["text"] for e in edited["content"]["edits"]] == ["Quero 3 vasos"]
    assert [r["emoji"] for r in edited["content"]["reactions"]] == ["\U0001f44d"]
    deleted = stored[s.wamid_of(second)]
    assert deleted["deleted_at"].startswith("2025-06-15T") and deleted["content"] == {"deleted": True}


async def test_a_reaction_or_an_edit_does_not_answer_the_flow_question(client: httpx.AsyncClient,
                                                                       fake_graph: FakeGraphServer,
                                                                       worker: None) -> None:
    org = await flows.org_with_number(client, fake_graph)
    nodes = [flows.node("start", "start"),
             flows.node("ask", "question", text="How old are you?", variable="age", validation="number",
                        retry_message="Please send a number.", max_retries=2),
             flows.node("done", "end", text="Thanks, {{age}}!")]
    flow = await flows.publish(client, org, nodes, [flows.edge("start", "ask"), flows.edge("ask", "done")],
                               {"type": "default"})
    wa = "5511977770001"
    hello = builders.inbound_text(org.phone_number_id, wa, "hi", timestamp=1_750_000_000)
    await flows.deliver(client, hello)
    [question] = await _sent(fake_graph, org, wa, 1)
    await flows.deliver(client, builders.inbound_reaction(org.phone_number_id, wa, question.wamid, "42"))
    await flows.deliver(client, builders.inbound_edit(org.phone_number_id, wa, s.wamid_of(hello), "text",
                                                      {"body": "42"}, timestamp=1_750_000_010))
    assert len(await flows.settle(fake_graph, org, wa, 1.0)) == 1  # nothing answered, nothing started again
    await flows.say(client, org, wa, "30")
    assert (await flows.wait_sent(fake_graph, org, wa, 2))[1] == "Thanks, 30!"
    [execution] = await flows.wait_execution(client, org, flow["id"], "completed")
    assert execution["variables"] == {"age": 30}


async def _sent(fake_graph: FakeGraphServer, org: flows.Org, wa: str, count: int) -> list[Any]:
    await flows.wait_sent(fake_graph, org, wa, count)
    return flows.sent(fake_graph, org, wa)


JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 200 + b"\xff\xd9"
PDF = b"%PDF-1.7\n" + b"0" * 5000 + b"\n%%EOF"


async def _media_message(client: httpx.AsyncClient, org: WaOrg, database_url: str, payload: dict[str, Any],
                         wa_id: str) -> str:
    assert await wait_processed(database_url, await deliver(client, payload)) == {"inbound": 1}
    return str((await messages_by_wamid(client, org, wa_id))[s.wamid_of(payload)]["id"])


async def test_inbound_media_is_streamed_to_every_role_of_the_organization_only(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    wa_id, pnid = random_wa_id(), org.phone_number_id
    media_id = random_digits(16, "1")
    fake_graph.add_media(media_id, JPEG, "image/jpeg", pnid)
    message_id = await _media_message(client, org, database_url, s.image(pnid, wa_id, media_id=media_id), wa_id)
    agent = await create_user(client, org.admin, "agent")
    viewer = await create_user(client, org.admin, "viewer")
    for headers in (org.headers, (await login_as(client, agent["email"])).headers,
                    (await login_as(client, viewer["email"])).headers):
        response = await client.get(f"{API}/whatsapp/media/{message_id}", headers=headers)
        assert response.status_code == 200, response.text
        assert response.content == JPEG and response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-disposition"].startswith("inline;")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert org.token not in str(response.headers) and "whatsapp_business" not in str(response.headers)
    assert fake_graph.media(media_id).downloads == 1  # type: ignore[union-attr]  # the disk copy served the rest

    rejected_id = random_digits(16, "5")
    fake_graph.add_media(rejected_id, JPEG, "image/jpeg", pnid)
    rejected = await _media_message(client, org, database_url, s.image(pnid, wa_id, media_id=rejected_id), wa_id)
    fake_graph.number(pnid).token_expired = True  # type: ignore[union-attr]
    with structlog.testing.capture_logs() as events:
        response = await client.get(f"{API}/whatsapp/media/{rejected}", headers=org.headers)
    assert_error_shape(response, 503, "media_token_rejected")
    assert org.token not in response.text
    logged = str(events) + caplog.text
    assert "media.graph_error" in logged and org.token not in logged and "whatsapp_business" not in logged

    other = await org_with_number(client, fake_graph)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{message_id}", headers=other.headers), 404)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{uuid.uuid4()}", headers=org.headers), 404)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{message_id}"), 401)


async def test_documents_come_as_attachments_and_messages_without_media_are_409(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id, pnid = random_wa_id(), org.phone_number_id
    media_id = random_digits(16, "2")
    fake_graph.add_media(media_id, PDF, "application/pdf", pnid)
    document_id = await _media_message(client, org, database_url, s.document(pnid, wa_id, media_id=media_id), wa_id)
    response = await client.get(f"{API}/whatsapp/media/{document_id}", headers=org.headers)
    assert response.status_code == 200 and response.content == PDF
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "NF-e%203519.pdf" in response.headers["content-disposition"] or \
        'NF-e 3519.pdf' in response.headers["content-disposition"]

    text_payload = s.text(pnid, wa_id, "sem anexo")
    text_id = await _media_message(client, org, database_url, text_payload, wa_id)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{text_id}", headers=org.headers), 409,
                       "message_has_no_media")

    gone_id = random_digits(16, "3")  # Meta no longer has it
    gone_message = await _media_message(client, org, database_url, s.voice(pnid, wa_id, media_id=gone_id), wa_id)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{gone_message}", headers=org.headers), 404,
                       "media_not_found")

    bad_id = random_digits(16, "4")
    fake_graph.add_media(bad_id, JPEG, "image/jpeg", pnid, sha256="f" * 64)
    bad_message = await _media_message(client, org, database_url, s.image(pnid, wa_id, media_id=bad_id), wa_id)
    assert_error_shape(await client.get(f"{API}/whatsapp/media/{bad_message}", headers=org.headers), 503,
                       "media_integrity_error")

    revoke = builders.inbound_revoke(pnid, wa_id, s.wamid_of(s.document(pnid, wa_id)))  # unknown: no effect
    assert await wait_processed(database_url, await deliver(client, revoke)) == {"unknown_target": 1}
