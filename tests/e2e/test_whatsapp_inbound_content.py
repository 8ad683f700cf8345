"""Inbound contents end to end: Meta-shaped webhooks of every type through the signed route and the real worker,
read back over the API; reactions, edits and revokes change their target and never answer a flow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e import flows_support as flows
from tests.e2e.whatsapp_support import (
    WaOrg,
    contact_by_wa_id,
    contact_messages,
    deliver,
    get_message,
    org_with_number,
    random_wa_id,
    wait_processed,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fixtures import whatsapp_content_samples as s

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
