"""Message templates end to end: synced by the real worker from the fake Graph API (at registration and on
request, every page), listed, checked before a send or an automation is queued, changed by Meta's template
webhooks, and an automation whose template was paused fails its recipients with the reason. Roles and tenancy."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.e2e.flows_support import edge, node, publish
from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    deliver,
    listed,
    org_with_waba,
    random_digits,
    random_wa_id,
    send,
    sends_of,
    wait_processed,
    wait_status,
    wait_templates,
    wait_until,
)
from tests.fake_graph.server import FakeGraphServer
from tests.fake_graph.templates import status_update_webhook, template
from tests.helpers import add_member, assert_error_shape, register

pytestmark = pytest.mark.e2e

ORDER = "Hi {{1}}, your order {{2}} is on its way."


def body(*values: str) -> list[dict[str, Any]]:
    return [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}]


async def test_registration_syncs_every_page_and_the_list_paginates(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    metas = [template(f"promo_{i:03}", body="Hello {{1}}") for i in range(150)] + [
        template("order_update", body=ORDER, status="PENDING", category="UTILITY")]
    org, waba = await org_with_waba(client, fake_graph, metas)
    found = await wait_templates(client, org, 151)
    reads = [r for r in fake_graph.requests if r.path.endswith(f"/{waba}/message_templates")]
    assert len(reads) == 2 and all(r.status == 200 and r.token_valid for r in reads)  # 100 + 51
    order = next(t for t in found if t["name"] == "order_update")
    assert (order["status"], order["category"], order["waba_id"], order["quality_score"]) == (
        "PENDING", "UTILITY", waba, "GREEN")
    assert order["components"] == metas[-1]["components"] and order["meta_template_id"] == metas[-1]["id"]
    page, total = await listed(client, org, limit=10, offset=20, query="PROMO_")
    assert total == 150 and [t["name"] for t in page] == [f"promo_{i:03}" for i in range(20, 30)]
    _, pending = await listed(client, org, status="pending")
    assert pending == 1
    bad = await client.get(f"{API}/whatsapp/templates", headers=org.headers, params={"status": "nope"})
    assert_error_shape(bad, 422)


async def test_a_requested_sync_follows_meta_and_marks_removed_templates_deleted(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org, waba = await org_with_waba(client, fake_graph, [template("a"), template("b"), template("c")])
    await wait_templates(client, org, 3)
    fake_graph.set_templates(waba, [template("a", status="PAUSED"), template("c"), template("d")])
    response = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/templates/sync", headers=org.headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "number_id": org.number["id"], "waba_id": waba,
                               "already_queued": False}  # even while the registration's sync still runs
    found = await wait_templates(client, org, 1, status="DELETED")
    assert [t["name"] for t in found] == ["b"]
    statuses = {t["name"]: t["status"] for t in (await listed(client, org))[0]}
    assert statuses == {"a": "PAUSED", "b": "DELETED", "c": "APPROVED", "d": "APPROVED"}


async def test_roles_tenancy_and_numbers_without_waba(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org, _ = await org_with_waba(client, fake_graph, [template("a")])
    await wait_templates(client, org, 1)
    url = f"{API}/whatsapp/numbers/{org.number['id']}/templates/sync"
    for role in ("viewer", "agent"):
        member = await add_member(client, org.admin, role)
        assert_error_shape(await client.post(url, headers=member.headers), 403, "permission_denied")
    viewer = await add_member(client, org.admin, "viewer")
    read = await client.get(f"{API}/whatsapp/templates", headers=viewer.headers)
    assert read.status_code == 200 and [t["name"] for t in read.json()] == ["a"]
    other, _ = await org_with_waba(client, fake_graph, [template("theirs")])
    await wait_templates(client, other, 1)
    assert [t["name"] for t in (await listed(client, org))[0]] == ["a"]  # never the other organization's
    assert_error_shape(await client.post(url, headers=other.headers), 404, "whatsapp_number_not_found")
    foreign = await client.get(f"{API}/whatsapp/templates", headers=other.headers,
                               params={"number_id": org.number["id"]})
    assert_error_shape(foreign, 404, "whatsapp_number_not_found")
    admin = await register(client)  # a number registered without its WABA id cannot be synced
    pnid, token = random_digits(), "EAAG" + secrets.token_hex(12)
    fake_graph.add_number(pnid, token)
    secret = await client.post(f"{API}/secrets/", headers=admin.headers,
                               json={"key": "WA_TOKEN", "value": token, "service": "whatsapp"})
    bare = await client.post(f"{API}/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": pnid, "access_token_secret_id": secret.json()["id"]})
    refused = await client.post(f"{API}/whatsapp/numbers/{bare.json()['id']}/templates/sync", headers=admin.headers)
    assert_error_shape(refused, 400, "whatsapp_number_without_waba")


async def test_sends_are_checked_against_the_synced_templates(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org, _ = await org_with_waba(client, fake_graph, [
        template("order_update", body=ORDER, header="Order {{1}}"), template("paused_one", status="PAUSED")])
    await wait_templates(client, org, 2)
    to = random_wa_id()
    unknown = await send(client, org, to, type="template", template_id="nope")
    assert "nope" in assert_error_shape(unknown, 400, "template_not_found")["detail"]
    paused = await send(client, org, to, type="template", template_id="paused_one")
    assert "PAUSED" in assert_error_shape(paused, 400, "template_not_approved")["detail"]
    header = [{"type": "header", "parameters": [{"type": "text", "text": "A-1"}]}]
    short = await send(client, org, to, type="template", template_id="order_update",
                       components=header + body("Ana"))
    assert "expected 2 body parameters, got 1" in assert_error_shape(short, 400,
                                                                      "template_parameters_mismatch")["detail"]
    no_header = await send(client, org, to, type="template", template_id="order_update", components=body("Ana", "1"))
    assert "expected 1 header parameter, got 0" in assert_error_shape(no_header, 400)["detail"]
    ok = await send(client, org, to, type="template", template_id="order_update",
                    components=header + body("Ana", "A-1"))
    assert ok.status_code == 202, ok.text
    await wait_status(client, org, ok.json()["message_id"], "sent")
    [accepted] = sends_of(fake_graph, ok.json()["message_id"])
    assert accepted.content["name"] == "order_update"


async def test_a_waba_never_synced_refuses_template_sends_until_synced(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org, waba = await org_with_waba(client, fake_graph, None)  # the token cannot read the WABA: the sync fails
    refused = await send(client, org, random_wa_id(), type="template", template_id="order_update")
    detail = assert_error_shape(refused, 400, "templates_not_synced")["detail"]
    assert f"/whatsapp/numbers/{org.number['id']}/templates/sync" in detail
    fake_graph.add_waba(waba, org.token)
    fake_graph.set_templates(waba, [template("order_update", body="Hi")])
    response = await client.post(f"{API}/whatsapp/numbers/{org.number['id']}/templates/sync", headers=org.headers)
    assert response.status_code == 202
    await wait_templates(client, org, 1)
    assert (await send(client, org, random_wa_id(), type="template", template_id="order_update")).status_code == 202


async def test_a_status_webhook_pauses_a_template_and_its_automation_fails_with_the_reason(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, database_url: str, worker: None) -> None:
    meta = template("promo", body="Hi {{1}}")
    org, waba = await org_with_waba(client, fake_graph, [meta])
    await wait_templates(client, org, 1)
    flow = await publish(client, org, [node("start", "start"), node("hi", "message", text="Hi")],  # type: ignore[arg-type]
                         [edge("start", "hi")], None, name="Campaign")
    opening = {"name": "promo", "language": "en_US",
               "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}
    contacts = [{"whatsapp_id": random_wa_id(), "variables": {"first": f"C{i}"}} for i in range(3)]
    wrong = await client.post(f"{API}/flow-automations", headers=org.headers, json={
        "flow_id": flow["id"], "contacts": contacts, "config": {"template": {**opening, "components": []}}})
    assert "expected 1 body parameter, got 0" in assert_error_shape(wrong, 400)["detail"]
    created = await client.post(f"{API}/flow-automations", headers=org.headers, json={
        "flow_id": flow["id"], "contacts": contacts, "config": {"template": opening}})
    assert created.status_code == 201, created.text

    raw = await deliver(client, status_update_webhook(waba, meta["id"], "promo", "PAUSED"))
    assert await wait_processed(database_url, raw) == {"templates": 1}
    [paused] = (await listed(client, org))[0]
    assert paused["status"] == "PAUSED"
    refused = await send(client, org, random_wa_id(), type="template", template_id="promo", components=body("x"))
    assert_error_shape(refused, 400, "template_not_approved")

    automation_id = created.json()["id"]
    started = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=org.headers)
    assert started.status_code == 200, started.text

    async def all_failed() -> list[dict[str, Any]] | None:
        response = await client.get(f"{API}/flow-automations/{automation_id}/recipients", headers=org.headers)
        rows: list[dict[str, Any]] = response.json()
        return rows if rows and all(r["state"] == "failed" for r in rows) else None

    rows = await wait_until(all_failed, timeout=15, what="every recipient failed")
    assert {r["error_title"] for r in rows} == {"Template promo (en_US) is PAUSED: only an APPROVED template can be "
                                                "sent."}
    assert not [s for s in fake_graph.sent_messages if s.phone_number_id == org.phone_number_id
                and s.type == "template" and s.content.get("name") == "promo"]


async def test_a_number_registered_without_waba_is_not_checked_and_meta_refuses_a_bad_template(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    admin = await register(client)
    pnid, waba, token = random_digits(), random_digits(), "EAAG" + secrets.token_hex(12)
    fake_graph.add_number(pnid, token, waba_id=waba)  # Meta knows its WABA; PyTake was not told
    fake_graph.add_waba(waba, token)
    fake_graph.set_templates(waba, [template("order_update", body=ORDER)])
    secret = await client.post(f"{API}/secrets/", headers=admin.headers,
                               json={"key": "WA_TOKEN", "value": token, "service": "whatsapp"})
    number = await client.post(f"{API}/whatsapp/numbers", headers=admin.headers, json={
        "phone_number_id": pnid, "access_token_secret_id": secret.json()["id"]})
    org = WaOrg(admin, pnid, token, secret.json()["id"], number.json())
    unchecked = await send(client, org, random_wa_id(), type="template", template_id="nope")
    assert unchecked.status_code == 202, unchecked.text  # queued: nothing to check it against
    failed = await wait_status(client, org, unchecked.json()["message_id"], "failed")
    assert failed["error_code"] == 132001
    short = await send(client, org, random_wa_id(), type="template", template_id="order_update",
                       components=body("Ana"))
    assert (await wait_status(client, org, short.json()["message_id"], "failed"))["error_code"] == 132000
    good = await send(client, org, random_wa_id(), type="template", template_id="order_update",
                      components=body("Ana", "A-1"))
    await wait_status(client, org, good.json()["message_id"], "sent")
