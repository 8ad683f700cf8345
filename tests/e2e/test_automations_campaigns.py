"""Flow automations end to end with the real worker and the fake Graph server: every recipient gets exactly one
opening message, at the configured rate, through pause/resume/cancel, Graph failures and opt-outs.

"Exactly once" is always checked on the fake's own record: accepted sends of the campaign's number grouped by
recipient. Each test has its own organization and number (throughput level HIGH, 1000 mps, so the campaign's
``rate_per_second`` is what paces it).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.flows_support import API, edge, node, publish
from tests.e2e.support import parse_time
from tests.e2e.whatsapp_support import (
    WaOrg,
    WorkerProcess,
    deliver,
    fetch,
    org_with_number,
    random_wa_id,
    worker_processes,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer
from tests.fake_graph.state import AcceptedSend

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TEMPLATE = {"name": "promo", "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}


# --------------------------------------------------------------------------- helpers


async def campaign_org(client: httpx.AsyncClient, fake: FakeGraphServer) -> WaOrg:
    org = await org_with_number(client, fake, throughput_level="HIGH")
    assert org.number["throughput_mps"] == 1000
    return org


async def launch(client: httpx.AsyncClient, org: WaOrg, count: int, rate: float, *, start: bool = True,
                 **config: Any) -> tuple[str, list[str]]:
    """An active flow, an automation for ``count`` new contacts (as ``{whatsapp_id}`` objects), started."""
    flow = await publish(client, org, [node("start", "start"), node("hi", "message", text="Thanks {{first}}")],  # type: ignore[arg-type]
                         [edge("start", "hi")], None, name="Campaign")
    wa_ids = [random_wa_id() for _ in range(count)]
    created = await client.post(f"{API}/flow-automations", headers=org.headers, json={
        "flow_id": flow["id"], "contacts": [{"whatsapp_id": w, "variables": {"first": f"C{i}"}}
                                            for i, w in enumerate(wa_ids)],
        "config": {"rate_per_second": rate, "template": TEMPLATE, **config}})
    assert created.status_code == 201, created.text
    assert (created.json()["total_contacts"], created.json()["config"]["rate_per_second"]) == (count, rate)
    automation_id = str(created.json()["id"])
    if start:
        started = await control(client, org, automation_id, "start")
        assert started.json() == {"status": "started"}
    return automation_id, wa_ids


async def control(client: httpx.AsyncClient, org: WaOrg, automation_id: str, action: str,
                  expect: int = 200) -> httpx.Response:
    response = await client.post(f"{API}/flow-automations/{automation_id}/{action}", headers=org.headers)
    assert response.status_code == expect, response.text
    return response


def openings(fake: FakeGraphServer, org: WaOrg) -> list[AcceptedSend]:
    """Accepted opening templates of this organization's number, in the order the fake accepted them."""
    return [s for s in fake.sent_messages if s.phone_number_id == org.phone_number_id and s.type == "template"]


def per_recipient(fake: FakeGraphServer, org: WaOrg) -> Counter[str]:
    return Counter(s.recipient for s in openings(fake, org))


def assert_exactly_once(fake: FakeGraphServer, org: WaOrg, wa_ids: list[str]) -> None:
    counts = per_recipient(fake, org)
    twice = {k: v for k, v in counts.items() if v > 1}
    assert not twice, f"recipients sent more than once: {twice}"
    assert set(counts) == set(wa_ids), f"missing {len(set(wa_ids) - set(counts))}, extra {set(counts) - set(wa_ids)}"


async def stats(client: httpx.AsyncClient, org: WaOrg, automation_id: str) -> dict[str, Any]:
    response = await client.get(f"{API}/flow-automations/{automation_id}/stats", headers=org.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_stats(client: httpx.AsyncClient, org: WaOrg, automation_id: str,
                     predicate: Callable[[dict[str, Any]], bool], *, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    current: dict[str, Any] = {}
    while time.monotonic() < deadline:
        current = await stats(client, org, automation_id)
        if predicate(current):
            return current
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s; stats: {current}")


async def wait_openings(fake: FakeGraphServer, org: WaOrg, at_least: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (n := len(openings(fake, org))) >= at_least:
            return n
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {len(openings(fake, org))} opening messages after {timeout} s")


async def recipients(client: httpx.AsyncClient, org: WaOrg, automation_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/flow-automations/{automation_id}/recipients", headers=org.headers,
                                params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json())


async def stops_within_a_second(fake: FakeGraphServer, org: WaOrg) -> int:
    """The opening count one second after a pause/cancel, checked not to grow over the next two seconds."""
    await asyncio.sleep(1.0)
    settled = len(openings(fake, org))
    await asyncio.sleep(2.0)
    assert len(openings(fake, org)) == settled, "opening messages were still sent 1 s after the stop"
    return settled


# --------------------------------------------------------------------------- tests


@pytest.fixture
def replicas(test_settings: Settings, database_url: str, tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Two more replicas of the real worker in their own processes (1,000 sends need both CPUs)."""
    with worker_processes(test_settings, database_url, tmp_path, 2, start=True, WORKER_CONCURRENCY="60") as processes:
        yield processes


async def test_thousand_recipients_at_100_per_second_are_each_sent_once_and_stats_match_the_fake(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None, replicas: list[WorkerProcess],
        database_url: str) -> None:
    org = await campaign_org(client, fake_graph)
    automation_id, wa_ids = await launch(client, org, 1000, 100)
    # ~10 s on an idle machine; the generous timeout is for a loaded CI box (the worker shares this process)
    try:
        done = await wait_stats(client, org, automation_id, lambda s: s["sent"] + s["failed"] >= 1000, timeout=150)
    except AssertionError as timed_out:  # say where the stragglers are stuck
        stuck = await fetch(database_url, "SELECT r.contact_id, m.status, m.attempts, m.send_claimed_at, m.wamid "
                                          "FROM automation_recipients r LEFT JOIN messages m ON m.id = r.message_id "
                                          "WHERE r.automation_id = $1::uuid AND r.state = 'pending'", automation_id)
        jobs = await fetch(database_url, "SELECT entrypoint, status, attempts, execute_after FROM pgqueuer")
        raise AssertionError(f"{timed_out}; pending: {[tuple(r) for r in stuck]}; jobs: {[tuple(j) for j in jobs]}; "
                             f"replicas: {[r.tail(1500) for r in replicas if not r.alive()]}") from None
    sends = openings(fake_graph, org)
    assert_exactly_once(fake_graph, org, wa_ids)
    assert len(sends) == 1000
    assert {s.recipient: s.body["template"]["components"][0]["parameters"][0]["text"] for s in sends} == {
        w: f"C{i}" for i, w in enumerate(wa_ids)}
    assert (done["status"], done["total"], done["sent"], done["pending"], done["failed"], done["skipped"]) == (
        "completed", 1000, len(sends), 0, 0, 0)
    # the rate is honoured: 1000 openings at 100/s take at least ~10 s from first to last
    span = sends[-1].at - sends[0].at
    assert span >= 999 / 100 * 0.95, span
    # never faster than asked (how close it gets depends on the machine: one recipient per transaction)
    assert 0 < done["messages_per_second"] <= 101, done
    started, finished = parse_time(done["started_at"]), parse_time(done["finished_at"])
    assert finished - started >= timedelta(seconds=9.5)

    # Meta's delivered statuses for every accepted send: the stats follow the fake's record exactly
    for chunk in range(0, len(sends), 100):
        await deliver(client, builders.statuses_for(sends[chunk:chunk + 100], "delivered"))
    delivered = await wait_stats(client, org, automation_id, lambda s: s["delivered"] == 1000, timeout=60)
    assert (delivered["sent"], delivered["delivered"], delivered["pending"], delivered["failed"]) == (0, 1000, 0, 0)
    shown = await recipients(client, org, automation_id, state="delivered", limit=5)
    assert [r["whatsapp_id"] for r in shown] == wa_ids[:5]
    assert len(openings(fake_graph, org)) == 1000  # and nobody got a second one meanwhile


async def test_pause_stops_sending_within_a_second_and_resume_finishes(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    automation_id, wa_ids = await launch(client, org, 200, 50)
    await wait_openings(fake_graph, org, 40)
    paused = await control(client, org, automation_id, "pause")
    assert paused.json()["status"] == "paused"
    settled = await stops_within_a_second(fake_graph, org)
    assert 40 <= settled < 200
    current = await stats(client, org, automation_id)
    assert (current["status"], current["sent"], current["pending"]) == ("paused", settled, 200 - settled)
    waiting = await recipients(client, org, automation_id, state="pending", limit=1)
    assert waiting[0]["dispatched_at"] is None and waiting[0]["message_id"] is None
    await control(client, org, automation_id, "pause")  # pausing again is harmless
    await control(client, org, automation_id, "resume")
    done = await wait_stats(client, org, automation_id, lambda s: s["sent"] == 200, timeout=60)
    assert (done["status"], done["pending"], done["failed"]) == ("completed", 0, 0), done
    assert_exactly_once(fake_graph, org, wa_ids)
    await control(client, org, automation_id, "resume", expect=409)


async def test_cancel_stops_for_good(client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    automation_id, wa_ids = await launch(client, org, 200, 50)
    await wait_openings(fake_graph, org, 40)
    cancelled = await control(client, org, automation_id, "cancel")
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["finished_at"] is not None
    settled = await stops_within_a_second(fake_graph, org)
    assert settled < 200
    for action in ("resume", "pause", "start", "cancel"):
        await control(client, org, automation_id, action, expect=409)
    await asyncio.sleep(1.0)
    assert len(openings(fake_graph, org)) == settled
    current = await stats(client, org, automation_id)
    assert (current["status"], current["sent"], current["pending"]) == ("cancelled", settled, 200 - settled)
    assert max(per_recipient(fake_graph, org).values()) == 1
    assert set(per_recipient(fake_graph, org)) <= set(wa_ids)


async def test_429_bursts_slow_the_campaign_but_lose_nobody(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    fake_graph.fail_next(times=20, code=130429, http_status=429)
    automation_id, wa_ids = await launch(client, org, 150, 100)
    await wait_openings(fake_graph, org, 40)
    fake_graph.fail_next(times=20, code=130429, http_status=429)
    done = await wait_stats(client, org, automation_id, lambda s: s["sent"] + s["failed"] >= 150, timeout=60)
    assert (done["sent"], done["failed"], done["pending"], done["status"]) == (150, 0, 0, "completed")
    assert_exactly_once(fake_graph, org, wa_ids)
    path = f"/{org.phone_number_id}/messages"
    requests = [r for r in fake_graph.requests if r.path.endswith(path)]
    throttled = [r for r in requests if r.status == 429]
    assert len(throttled) == 40
    # each throttled send was retried later (backoff), not hammered: its accepted send came >= ~1 s after
    accepted_at = {s.biz_opaque_callback_data: s.at for s in openings(fake_graph, org)}
    for request in throttled:
        tracking = request.json["biz_opaque_callback_data"]
        assert accepted_at[tracking] - request.at >= 0.9, tracking
    assert len(requests) == 190  # 150 accepted + 40 throttled: nothing else was tried


async def test_131047_fails_that_recipient_with_its_code_while_the_others_succeed(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    automation_id, wa_ids = await launch(client, org, 20, 50, start=False)
    unreachable = [wa_ids[3], wa_ids[11]]
    for wa_id in unreachable:
        fake_graph.fail_for(to=wa_id, code=131047)
    try:
        await control(client, org, automation_id, "start")
        done = await wait_stats(client, org, automation_id, lambda s: s["sent"] + s["failed"] >= 20)
    finally:
        for wa_id in unreachable:
            fake_graph.fail_for(to=wa_id, code=None)
    assert (done["sent"], done["failed"], done["pending"], done["status"]) == (18, 2, 0, "completed")
    counts = per_recipient(fake_graph, org)
    assert set(counts) == set(wa_ids) - set(unreachable) and set(counts.values()) == {1}
    failed = await recipients(client, org, automation_id, state="failed")
    assert [(r["whatsapp_id"], r["state"], r["error_code"]) for r in failed] == [
        (w, "failed", 131047) for w in unreachable]
    assert all(r["error_title"] for r in failed)
    tried = [r for r in fake_graph.requests if r.path.endswith(f"/{org.phone_number_id}/messages")
             and "".join(c for c in str(r.json.get("to")) if c.isdigit()) in unreachable]
    assert len(tried) == 2  # a definitive error is not retried
    sent_rows = await recipients(client, org, automation_id, state="sent")
    assert len(sent_rows) == 18 and all(r["error_code"] is None for r in sent_rows)


async def test_an_expired_token_holds_the_campaign_on_its_number_until_the_token_is_replaced(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    automation_id, wa_ids = await launch(client, org, 200, 50)
    await wait_openings(fake_graph, org, 40)
    fake_graph.set_token_expired(org.phone_number_id)
    await asyncio.sleep(1.5)  # the sends in flight come back 401: the number's breaker opens, nothing fails
    fake_graph.set_token_expired(org.phone_number_id, False)  # Meta would accept again; the breaker holds
    numbers = (await client.get(f"{API}/whatsapp/numbers", headers=org.headers)).json()
    assert numbers[0]["sending_pause"]["graph_code"] == 190 and numbers[0]["sending_pause"]["until"] is None
    held = len(openings(fake_graph, org))
    await asyncio.sleep(1.5)
    assert len(openings(fake_graph, org)) == held, "sent while the token breaker was open"
    waiting = await stats(client, org, automation_id)
    assert (waiting["failed"], waiting["sent"]) == (0, held) and waiting["status"] == "running"
    rejected = [r for r in fake_graph.requests
                if r.path.endswith(f"/{org.phone_number_id}/messages") and r.status == 401]
    assert 1 <= len(rejected) < 60  # only what was in flight, not the whole audience
    replaced = await client.put(f"{API}/secrets/{org.secret_id}", headers=org.headers, json={"value": org.token})
    assert replaced.status_code == 200, replaced.text
    done = await wait_stats(client, org, automation_id, lambda s: s["sent"] + s["failed"] >= 200, timeout=60)
    assert (done["status"], done["sent"], done["failed"], done["pending"]) == ("completed", 200, 0, 0)
    assert_exactly_once(fake_graph, org, wa_ids)


async def test_a_scheduled_campaign_waits_for_its_time_and_stop_opts_a_contact_out(
        client: httpx.AsyncClient, fake_graph: FakeGraphServer, worker: None) -> None:
    org = await campaign_org(client, fake_graph)
    schedule_at = datetime.now(UTC) + timedelta(seconds=4)
    scheduled_mono = time.monotonic() + 4
    automation_id, wa_ids = await launch(client, org, 5, 20, schedule_at=schedule_at.isoformat())
    detail = (await client.get(f"{API}/flow-automations/{automation_id}", headers=org.headers)).json()
    assert (detail["status"], detail["started_at"]) == ("scheduled", None)

    await deliver(client, builders.inbound_text(org.phone_number_id, wa_ids[1], "Stop"))
    skipped = await wait_stats(client, org, automation_id, lambda s: s["skipped"] == 1, timeout=10)
    assert (skipped["status"], skipped["pending"], skipped["sent"]) == ("scheduled", 4, 0)
    [row] = await recipients(client, org, automation_id, state="skipped")
    assert (row["whatsapp_id"], row["skip_reason"], row["dispatched_at"]) == (wa_ids[1], "opted_out", None)
    contact = (await client.get(f"{API}/contacts", headers=org.headers, params={"query": wa_ids[1]})).json()
    assert [c["opted_out"] for c in contact] == [True]

    await asyncio.sleep(max(scheduled_mono - time.monotonic() - 0.5, 0))
    assert openings(fake_graph, org) == []  # nothing before the scheduled time
    done = await wait_stats(client, org, automation_id, lambda s: s["sent"] == 4, timeout=20)
    assert (done["status"], done["skipped"], done["pending"]) == ("completed", 1, 0)
    assert parse_time(done["started_at"]) >= schedule_at
    assert openings(fake_graph, org)[0].at >= scheduled_mono - 0.05
    assert set(per_recipient(fake_graph, org)) == set(wa_ids) - {wa_ids[1]}
    assert max(per_recipient(fake_graph, org).values()) == 1
