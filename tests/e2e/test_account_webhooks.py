"""Account-level webhook fields end to end (signed deliveries, the real worker): account_update bans and
reinstates a WABA's numbers, phone_number_quality_update raises throughput, user_preferences opts contacts out
and back in, and any other field is counted ignored with its raw body kept."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    deliver,
    fetch,
    org_with_waba,
    random_wa_id,
    send,
    send_template,
    wait_processed,
    wait_templates,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fake_graph.templates import template

pytestmark = pytest.mark.e2e


async def get_number(client: httpx.AsyncClient, org: WaOrg) -> dict[str, Any]:
    response = await client.get(f"{API}/whatsapp/numbers", headers=org.headers)
    assert response.status_code == 200, response.text
    [body] = [n for n in response.json() if n["id"] == org.number["id"]]
    found: dict[str, Any] = body
    return found


async def apply(client: httpx.AsyncClient, database_url: str, payload: dict[str, Any]) -> dict[str, int]:
    return await wait_processed(database_url, await deliver(client, payload))


async def test_a_ban_stops_sending_and_a_reinstatement_resumes_it(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    org, waba = await org_with_waba(client, fake_graph, [template("order_update", body="Your order is on its way.")])
    await wait_templates(client, org, 1)  # registration syncs them: template sends are checked against them
    assert await apply(client, database_url, builders.account_update(
        "DISABLED_UPDATE", ban_state="DISABLE", waba_id=waba)) == {"account_updates": 1}
    number = await get_number(client, org)
    assert number["account_status"] == "banned" and number["account_status_at"] is not None
    refused = await send(client, org, random_wa_id(), type="template", template_id="order_update")
    assert (refused.status_code, refused.json()["error_code"]) == (400, "whatsapp_account_banned")
    assert await apply(client, database_url, builders.account_update(
        "DISABLED_UPDATE", ban_state="REINSTATE", waba_id=waba)) == {"account_updates": 1}
    assert (await get_number(client, org))["account_status"] is None
    assert await send_template(client, org, random_wa_id())


async def test_a_restriction_is_shown_on_the_number(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    org, waba = await org_with_waba(client, fake_graph)
    other, _ = await org_with_waba(client, fake_graph)  # another WABA: untouched
    assert await apply(client, database_url, builders.account_update(
        "ACCOUNT_RESTRICTION", restrictions=["RESTRICTED_BIZ_INITIATED_MESSAGING"], waba_id=waba)) == {
        "account_updates": 1}
    assert (await get_number(client, org))["account_status"] == "restricted"
    assert (await get_number(client, other))["account_status"] is None


async def test_throughput_upgrade_moves_the_number_to_1000_messages_per_second(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    org, waba = await org_with_waba(client, fake_graph)
    number = await get_number(client, org)
    assert number["throughput_mps"] == 80
    assert await apply(client, database_url, builders.quality_update(
        "THROUGHPUT_UPGRADE", display_phone_number=number["phone_number"], waba_id=waba)) == {"quality_updates": 1}
    assert (await get_number(client, org))["throughput_mps"] == 1000


async def test_marketing_stop_and_resume_follow_the_users_choice(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    org, _ = await org_with_waba(client, fake_graph)
    wa_id = random_wa_id()
    created = await client.post(f"{API}/contacts", headers=org.headers, json={"whatsapp_id": wa_id})
    assert created.status_code == 201
    url = f"{API}/contacts/{created.json()['id']}"
    assert await apply(client, database_url, builders.user_preference(org.phone_number_id, wa_id, "stop")) == {
        "preferences": 1}
    assert (await client.get(url, headers=org.headers)).json()["opted_out"] is True
    assert await apply(client, database_url, builders.user_preference(org.phone_number_id, wa_id, "resume")) == {
        "preferences": 1}
    assert (await client.get(url, headers=org.headers)).json()["opted_out"] is False


async def test_other_fields_are_counted_ignored_and_kept_in_the_inbox(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, database_url: str) -> None:
    org, waba = await org_with_waba(client, fake_graph)
    payload = builders.batch(builders.other_field("security", {"display_phone_number": "15550783881",
                                                               "event": "PIN_CHANGED"}, waba_id=waba),
                             builders.other_field("business_capability_update",
                                                  {"max_daily_conversations_per_business": "TIER_2K"}, waba_id=waba),
                             builders.inbound_text(org.phone_number_id, random_wa_id(), "hi"))
    body = await deliver(client, payload)
    assert await wait_processed(database_url, body) == {"ignored": 2, "inbound": 1}
    [row] = await fetch(database_url, "SELECT status, body FROM webhook_events WHERE body = $1", body)
    assert row["status"] == "processed"
