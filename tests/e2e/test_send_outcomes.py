"""Every send and every job ends in a final, explained state, and a number Meta paused waits instead of failing:
the real worker (few attempts, short backoffs) against the fake Graph API over HTTP."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pgqueuer.models import Job
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from entrypoints.config import Settings
from entrypoints.worker.handlers import build_dead_letter_hooks
from tests.conftest import running_worker
from tests.e2e.flows_support import edge, node, publish
from tests.e2e.support import parse_time
from tests.e2e.test_automations_campaigns import launch, recipients, wait_stats
from tests.e2e.whatsapp_support import (
    API,
    WaOrg,
    deliver,
    fetch,
    org_with_number,
    random_wa_id,
    requests_of,
    send_template,
    sends_of,
    wait_processed,
    wait_status,
    wait_until,
)
from tests.fake_graph import builders
from tests.fake_graph.faults import TITLES
from tests.fake_graph.server import FakeGraphServer, ServedApp

pytestmark = pytest.mark.e2e

ATTEMPTS = 3


@pytest.fixture(scope="module")
async def tuned_worker(app: FastAPI, test_settings: Settings, database_url: str) -> AsyncIterator[None]:
    """The real worker with 3 send attempts, at most 0.3 s between them, and 2 tries per job."""
    settings = test_settings.model_copy(update={"whatsapp_send_max_attempts": ATTEMPTS,
                                                "whatsapp_send_max_backoff_seconds": 0.3,
                                                "worker_job_max_attempts": 2})
    async with running_worker(settings, database_url):
        yield


@pytest.fixture
async def org(client: httpx.AsyncClient, fake_graph: FakeGraphServer, tuned_worker: None) -> WaOrg:
    return await org_with_number(client, fake_graph, throughput_level="HIGH")


async def number_of(client: httpx.AsyncClient, org: WaOrg) -> dict[str, Any]:
    listed = await client.get(f"{API}/whatsapp/numbers", headers=org.headers)
    assert listed.status_code == 200, listed.text
    [number] = [n for n in listed.json() if n["id"] == org.number["id"]]
    return dict(number)


# --------------------------------------------------------------------------- attempts spent: failed, explained


@pytest.mark.parametrize("code", [130429, 131056, 80007])
async def test_a_rate_limit_on_every_attempt_fails_the_message_with_metas_last_error(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, code: int) -> None:
    wa_id = random_wa_id()
    fake_graph.fail_for(wa_id, code)
    try:
        message_id = await send_template(client, org, wa_id)
        detail = await wait_status(client, org, message_id, "failed", "sent", timeout=20)
    finally:
        fake_graph.fail_for(wa_id, None)
    assert (detail["status"], detail["error_code"], detail["wamid"]) == ("failed", code, None)
    assert detail["error_title"] == f"Gave up after {ATTEMPTS} attempts: {TITLES[code]}"
    assert [(e["status"], e["error_code"]) for e in detail["status_history"]] == [("failed", code)]
    assert [r.status for r in requests_of(fake_graph, message_id)] == [400] * ATTEMPTS
    assert sends_of(fake_graph, message_id) == []


async def test_an_automation_recipient_refused_on_every_attempt_is_failed_and_the_automation_completes(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    automation_id, wa_ids = await launch(client, org, 3, 20, start=False)
    fake_graph.fail_for(wa_ids[1], 80007)
    try:
        started = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=org.headers)
        assert started.status_code == 200, started.text
        done = await wait_stats(client, org, automation_id, lambda s: s["status"] == "completed", timeout=30)
    finally:
        fake_graph.fail_for(wa_ids[1], None)
    assert (done["sent"], done["failed"], done["pending"]) == (2, 1, 0)
    [failed] = await recipients(client, org, automation_id, state="failed")
    assert (failed["whatsapp_id"], failed["error_code"]) == (wa_ids[1], 80007)
    assert failed["error_title"] == f"Gave up after {ATTEMPTS} attempts: {TITLES[80007]}"


# --------------------------------------------------------------------------- breakers: the number waits


async def test_a_spam_rate_limit_pauses_the_number_for_metas_time_and_sending_resumes_by_itself(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    fake_graph.fail_next(1, 131048, retry_after=3)
    first = await send_template(client, org, random_wa_id())
    await wait_until(lambda: _has_request(fake_graph, first), what="the first send to reach Meta")
    paused_at = time.monotonic()
    pause = (await wait_until(lambda: _pause(client, org), what="the breaker on the number"))
    assert (pause["graph_code"], pause["reason"]) == (131048, TITLES[131048])
    until = parse_time(pause["until"])
    assert timedelta(seconds=2) < until - datetime.now(UTC) <= timedelta(seconds=3.5)
    [row] = await fetch(database_url, "SELECT send_pause_code, send_paused_until FROM whatsapp_numbers WHERE id = $1",
                        org.number["id"])
    assert row["send_pause_code"] == 131048  # durable: every worker replica reads it from the number's row
    later = [await send_template(client, org, random_wa_id()) for _ in range(3)]
    await asyncio.sleep(1.0)
    for message_id in (first, *later):  # nothing fails, nothing more reaches Meta while the number is paused
        assert (await wait_status(client, org, message_id, "queued"))["error_code"] is None
        assert len(requests_of(fake_graph, message_id)) == (1 if message_id == first else 0)
    for message_id in (first, *later):
        await wait_status(client, org, message_id, "sent", timeout=15)
        assert len(sends_of(fake_graph, message_id)) == 1
    resumed = min(r.at for m in later for r in requests_of(fake_graph, m))
    assert resumed - paused_at >= 2.5  # not before Meta's time
    assert (await number_of(client, org))["sending_pause"] is None


@pytest.mark.parametrize(("code", "minutes", "pause"), [(368, None, timedelta(hours=24)),
                                                        (131048, 2, timedelta(minutes=2))])
async def test_a_policy_block_or_a_usage_header_sets_how_long_the_number_waits(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, code: int, minutes: int | None,
        pause: timedelta) -> None:
    fake_graph.fail_next(1, code, regain_access_minutes=minutes)
    message_id = await send_template(client, org, random_wa_id())
    found = await wait_until(lambda: _pause(client, org), what="the breaker on the number")
    assert found["graph_code"] == code
    assert abs(parse_time(found["until"]) - (datetime.now(UTC) + pause)) < timedelta(seconds=5)
    second = await send_template(client, org, random_wa_id())
    await asyncio.sleep(1.5)
    assert (await wait_status(client, org, message_id, "queued"))["error_code"] is None
    assert (await wait_status(client, org, second, "queued"))["error_code"] is None
    assert len(requests_of(fake_graph, message_id)) == 1 and requests_of(fake_graph, second) == []


async def test_a_spam_limit_reported_by_a_status_webhook_opens_the_breaker_too(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, database_url: str) -> None:
    wa_id = random_wa_id()
    first = await send_template(client, org, wa_id)
    sent = await wait_status(client, org, first, "sent", timeout=10)
    failed_at = datetime.now(UTC).replace(microsecond=0)
    body = await deliver(client, builders.status_update(
        org.phone_number_id, sent["wamid"], "failed", wa_id, timestamp=failed_at,
        errors=[(131048, "Spam rate limit hit", "Message failed to send because there are restrictions on how many "
                                                 "messages can be sent from this phone number.")]))
    await wait_processed(database_url, body)
    detail = await wait_status(client, org, first, "failed")
    assert (detail["error_code"], detail["error_title"]) == (131048, "Spam rate limit hit")
    pause = await wait_until(lambda: _pause(client, org), what="the breaker opened by the webhook")
    assert pause["graph_code"] == 131048
    assert parse_time(pause["until"]) == failed_at + timedelta(hours=1)
    second = await send_template(client, org, random_wa_id())
    await asyncio.sleep(1.5)
    assert (await wait_status(client, org, second, "queued"))["error_code"] is None
    assert requests_of(fake_graph, second) == []


async def test_an_expired_token_holds_the_numbers_messages_until_the_secret_gets_a_new_value(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    usage_url = f"{API}/secrets/{org.secret_id}/usage"
    before = (await client.get(usage_url, headers=org.headers)).json()
    fake_graph.set_token_expired(org.phone_number_id)
    first = await send_template(client, org, random_wa_id())
    pause = await wait_until(lambda: _pause(client, org), what="the token breaker")
    assert (pause["graph_code"], pause["until"]) == (190, None)
    after = (await client.get(usage_url, headers=org.headers)).json()
    assert after["total_requests"] == before["total_requests"] + 1 and after["success_rate"] < 1.0
    second = await send_template(client, org, random_wa_id())
    fake_graph.set_token_expired(org.phone_number_id, False)  # Meta would accept again: the breaker still holds
    await asyncio.sleep(2.0)
    for message_id in (first, second):
        assert (await wait_status(client, org, message_id, "queued"))["error_code"] is None
    assert [r.status for r in requests_of(fake_graph, first)] == [401] and requests_of(fake_graph, second) == []
    new_token = "EAAG" + secrets.token_hex(12)
    fake_graph.add_number(org.phone_number_id, new_token)
    updated = await client.put(f"{API}/secrets/{org.secret_id}", headers=org.headers, json={"value": new_token})
    assert updated.status_code == 200, updated.text
    for message_id in (first, second):
        await wait_status(client, org, message_id, "sent", timeout=10)
        assert len(sends_of(fake_graph, message_id)) == 1
    assert (await number_of(client, org))["sending_pause"] is None


async def test_another_organization_never_sees_a_numbers_breaker(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    other = await org_with_number(client, fake_graph)
    fake_graph.fail_next(1, 368)
    await send_template(client, org, random_wa_id())
    await wait_until(lambda: _pause(client, org), what="the breaker on the number")
    listed = await client.get(f"{API}/whatsapp/numbers", headers=other.headers)
    assert [n["id"] for n in listed.json()] == [other.number["id"]]
    assert listed.json()[0]["sending_pause"] is None
    message_id = await send_template(client, other, random_wa_id())  # the other organization sends as usual
    await wait_status(client, other, message_id, "sent", timeout=10)


# --------------------------------------------------------------------------- dead-lettered jobs


async def test_a_number_verification_that_gives_up_leaves_the_number_inactive_with_the_reason(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer) -> None:
    pnid = str(10**14 + secrets.randbelow(10**14))  # unknown to Meta: it answers 100 once it is reachable
    fake_graph.set_unavailable(pnid)
    try:
        registered = await client.post(f"{API}/whatsapp/numbers", headers=org.headers, json={
            "phone_number_id": pnid, "access_token_secret_id": org.secret_id})
        assert registered.status_code == 201, registered.text
        assert registered.json()["status"] == "pending"
    finally:
        fake_graph.set_unavailable(pnid, False)

    async def settled() -> dict[str, Any] | None:
        listed = (await client.get(f"{API}/whatsapp/numbers", headers=org.headers)).json()
        [number] = [n for n in listed if n["phone_number_id"] == pnid]
        return number if number["status"] != "pending" else None

    number = await wait_until(settled, timeout=20, what="the verification to give up")
    assert number["status"] == "inactive"
    assert number["last_error"].startswith("Verification with the Graph API gave up: ")
    assert number["last_error"].endswith("Register the number again.")


async def test_a_flow_timer_that_gives_up_fails_its_execution(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, app: FastAPI) -> None:
    flow = await publish(client, org, [node("start", "start"), node("wait", "delay", seconds=3600),  # type: ignore[arg-type]
                                       node("after", "message", text="later")],
                         [edge("start", "wait"), edge("wait", "after")], {"type": "default"}, name="Waits")
    wa_id = random_wa_id()
    await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "hi"))

    async def waiting() -> dict[str, Any] | None:
        listed = (await client.get(f"{API}/flows/{flow['id']}/executions", headers=org.headers)).json()
        return listed[0] if listed and listed[0]["status"] == "waiting" else None

    execution = await wait_until(waiting, timeout=10, what="the execution to wait on its delay")
    hooks = build_dead_letter_hooks(app.state.container)
    payload = {"organization_id": org.admin.organization_id, "execution_id": execution["id"],
               "timer_id": "wait"}
    await hooks["flow_timer"](_job("flow_timer", payload), RuntimeError("boom"))
    await hooks["flow_timer"](_job("flow_timer", {"broken": True}), RuntimeError("boom"))  # a poison payload: logged
    listed = (await client.get(f"{API}/flows/{flow['id']}/executions", headers=org.headers)).json()
    assert (listed[0]["status"], listed[0]["fail_reason"]) == ("failed", "job_gave_up")


async def _pause(client: httpx.AsyncClient, org: WaOrg) -> dict[str, Any] | None:
    pause = (await number_of(client, org))["sending_pause"]
    return dict(pause) if pause else None


async def _has_request(fake: FakeGraphServer, message_id: str) -> bool:
    return bool(requests_of(fake, message_id))


def _job(entrypoint: str, payload: dict[str, Any]) -> Job:
    now = datetime.now(UTC)
    return Job.model_validate({"id": 1, "priority": 0, "created": now, "updated": now, "heartbeat": now,
                               "execute_after": now, "status": "picked", "entrypoint": entrypoint,
                               "payload": json.dumps(payload).encode(), "attempts": 1, "queue_manager_id": None,
                               "slot": 0, "headers": None})


async def test_a_flow_http_call_that_gives_up_fails_its_execution_and_a_late_result_changes_nothing(
        client: httpx.AsyncClient, org: WaOrg, fake_graph: FakeGraphServer, app: FastAPI, database_url: str) -> None:
    released = threading.Event()

    async def slow(_: Request) -> Response:
        await asyncio.to_thread(released.wait, 10)
        return JSONResponse({"ok": True})

    with ServedApp.running(Starlette(routes=[Route("/slow", slow, methods=["POST"])])) as served:
        flow = await publish(client, org, [node("start", "start"),  # type: ignore[arg-type]
                                           node("call", "http_request", method="POST", url=served.base_url + "/slow",
                                                timeout_seconds=10),
                                           node("ok", "end", text="done"), node("err", "end", text="failed")],
                             [edge("start", "call"), edge("call", "ok", "success"), edge("call", "err", "error")],
                             {"type": "default"}, name="Calls")
        wa_id = random_wa_id()
        await deliver(client, builders.inbound_text(org.phone_number_id, wa_id, "hi"))

        async def waiting() -> dict[str, Any] | None:
            listed = (await client.get(f"{API}/flows/{flow['id']}/executions", headers=org.headers)).json()
            return listed[0] if listed and listed[0]["status"] == "waiting" else None

        execution = await wait_until(waiting, timeout=10, what="the execution to wait on its HTTP call")
        hooks = build_dead_letter_hooks(app.state.container)
        payload = {"organization_id": org.admin.organization_id, "execution_id": execution["id"],
                   "call": {"call_id": "x"}}
        await hooks["flow_http"](_job("flow_http", payload), RuntimeError("boom"))
        released.set()  # the call returns now: its result reaches an execution that is over

        async def job_done() -> bool:
            rows = await fetch(database_url, "SELECT count(*) FROM pgqueuer WHERE entrypoint = 'flow_http' AND "
                                             "convert_from(payload, 'UTF8')::jsonb->>'execution_id' = $1",
                               execution["id"])
            return rows[0][0] == 0

        await wait_until(job_done, timeout=10, what="the HTTP job to finish")
    listed = (await client.get(f"{API}/flows/{flow['id']}/executions", headers=org.headers)).json()
    assert (listed[0]["status"], listed[0]["fail_reason"]) == ("failed", "job_gave_up")
    assert not [s for s in fake_graph.sent_messages if s.recipient == wa_id]  # neither "done" nor "failed" sent
