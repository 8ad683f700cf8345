"""Faults: PostgreSQL restarted under load, the worker SIGKILLed mid-batch, a slow and failing Graph API.

Each test drives real processes (uvicorn serving the API, ``python -m entrypoints.worker.main``) over real HTTP
and checks the promises the README makes about them:

* PostgreSQL down: the API answers 503 in the error shape (never 500, never a hang) and serves again on its
  own once the database is back; every webhook acknowledged with 200 is processed, none twice.
* A worker killed with SIGKILL in the middle of a batch of webhooks: a new worker finishes the batch and every
  stored webhook has its effect exactly once (one message per wamid, one contact per sender).
* A slow Graph API that refuses a share of the sends with rate-limit and transient errors: every send ends
  ``sent`` and Meta received each message exactly once.

The figures (outage, recovery time, rates) are printed (``pytest -s``) and quoted in the README.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.postgres.migrations import upgrade
from entrypoints.config import Settings
from tests.e2e.fault_support import (
    Answer,
    ApiProcess,
    PrivateServer,
    Recorder,
    inbound_text,
    new_wamid,
)
from tests.e2e.whatsapp_support import (
    WorkerProcess,
    count,
    fetch,
    org_with_number,
    process_env,
    random_wa_id,
    send_template,
    sends_of,
    wait_until,
)
from tests.fake_graph.faults import GraphFault
from tests.fake_graph.server import FakeGraphServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

API = "/api/v1"
NO_METRICS_PORT = {"WORKER_METRICS_PORT": "0"}


def figures(name: str, **values: Any) -> None:
    print(f"\nFAULT FIGURES {name}: {json.dumps(values, sort_keys=True)}", flush=True)


async def _answer(request: Any) -> Answer:
    try:
        response = await request
    except httpx.HTTPError as error:
        return Answer(time.monotonic(), type(error).__name__)
    body: Any = response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
    return Answer(time.monotonic(), response.status_code, body, response.headers.get("retry-after"))


# --------------------------------------------------------------------------- PostgreSQL restarted under load

CAMPAIGN_SIZE, CAMPAIGN_RATE = 300, 20  # a campaign runs through the outage: 15 s at 20 opening messages a second
CAMPAIGN_TEMPLATE = {"name": "promo", "language": "en_US"}


async def start_campaign(client: httpx.AsyncClient, org: Any, size: int, rate: int) -> str:
    """An active flow and an automation opening with a template for ``size`` new contacts, started."""
    nodes = [{"id": "s", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
             {"id": "m", "type": "message", "position": {"x": 0, "y": 0}, "data": {"text": "Thanks"}}]
    flow = await client.post(f"{API}/flows", headers=org.headers, json={
        "name": "Campaign", "nodes": nodes, "edges": [{"id": "e", "source": "s", "target": "m"}]})
    assert flow.status_code == 201, flow.text
    published = await client.put(f"{API}/flows/{flow.json()['id']}", headers=org.headers, json={"status": "active"})
    assert published.status_code == 200, published.text
    created = await client.post(f"{API}/flow-automations", headers=org.headers, json={
        "flow_id": flow.json()["id"], "contacts": [{"whatsapp_id": random_wa_id()} for _ in range(size)],
        "config": {"rate_per_second": rate, "template": CAMPAIGN_TEMPLATE}})
    assert created.status_code == 201, created.text
    started = await client.post(f"{API}/flow-automations/{created.json()['id']}/start", headers=org.headers)
    assert started.status_code == 200, started.text
    return str(created.json()["id"])



async def test_postgres_restart_under_load_gives_503s_then_recovers_and_loses_no_acknowledged_webhook(
        tmp_path: Path, test_settings: Settings, fake_graph: FakeGraphServer) -> None:
    server = PrivateServer(tmp_path / "pg")
    api: ApiProcess | None = None
    worker: WorkerProcess | None = None
    try:
        url = server.create_database("pytake_faults")
        await asyncio.to_thread(upgrade, url)
        env = process_env(test_settings, url)
        api = ApiProcess(env, tmp_path / "api.log").start()
        worker = WorkerProcess(test_settings, url, tmp_path / "worker.log", WORKER_HEARTBEAT_SECONDS="3",
                               WORKER_POLL_SECONDS="0.5", **NO_METRICS_PORT).start()
        await api.wait_ready()
        api_pid = api.process.pid if api.process else None
        recorder, acknowledged = Recorder(), []
        down_seconds = 4.0
        async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
            org = await org_with_number(client, fake_graph)
            campaign = await start_campaign(client, org, CAMPAIGN_SIZE, CAMPAIGN_RATE)
            stop = asyncio.Event()
            senders = [f"55119{n:08d}" for n in range(20)]

            async def webhooks(lane: int) -> None:
                n = 0
                while not stop.is_set():
                    wamid = new_wamid()
                    body, headers = inbound_text(org.phone_number_id, senders[(lane + n) % len(senders)], wamid,
                                                 f"hello {lane}.{n}")
                    answer = await _answer(client.post(f"{API}/whatsapp/webhook", content=body, headers=headers))
                    recorder.add("webhook", answer)
                    if answer.status == 200:
                        acknowledged.append(wamid)
                    n += 1
                    await asyncio.sleep(0.02)

            async def reads() -> None:
                while not stop.is_set():
                    recorder.add("read", await _answer(client.get(f"{API}/contacts", headers=org.headers)))
                    await asyncio.sleep(0.02)

            load = [asyncio.create_task(webhooks(lane)) for lane in range(4)]
            load += [asyncio.create_task(reads()) for _ in range(2)]
            await asyncio.sleep(3)
            down_at = time.monotonic()
            await asyncio.to_thread(server.stop)
            stopped_at = time.monotonic()
            await asyncio.sleep(down_seconds)
            await asyncio.to_thread(server.start)
            up_at = time.monotonic()
            await asyncio.sleep(8)
            stop.set()
            await asyncio.gather(*load)

        for kind in ("webhook", "read"):
            statuses = recorder.statuses(kind)
            assert set(statuses) <= {200, 503}, (kind, statuses, api.tail())  # never a 500, never a hang
            unavailable = recorder.of(kind, 503)
            assert unavailable, (kind, statuses)  # the outage was seen ...
            for answer in unavailable:  # ... in the error shape, and only while the database was away
                assert answer.body["status_code"] == 503, answer.body
                assert answer.body["error_code"] == "database_unavailable", answer.body
                assert isinstance(answer.body["detail"], str) and answer.body["detail"]
                assert answer.retry_after is not None and int(answer.retry_after) > 0
                assert down_at - 0.5 <= answer.at <= up_at + 5, (kind, answer.at - down_at)
            late = [a for a in recorder.answers[kind] if a.at > up_at + 5]
            assert late and all(a.status == 200 for a in late), (kind, [a.status for a in late][:20])
        recovered = min(a.at for a in recorder.of("read", 200) if a.at > up_at) - up_at
        assert api.alive() and api.process and api.process.pid == api_pid  # recovered alone, same process

        # every acknowledged webhook is processed, once: one inbound message per acknowledged wamid
        async def all_processed() -> bool:
            assert worker is not None and worker.alive(), worker.tail() if worker else ""
            return await count(url, "SELECT count(*) FROM webhook_events WHERE status <> 'processed'") == 0

        try:
            await wait_until(all_processed, timeout=90, interval=0.5, what="every stored webhook processed")
        except AssertionError:
            hooks = await fetch(url, "SELECT status, count(*) FROM webhook_events GROUP BY status")
            jobs = await fetch(url, "SELECT entrypoint, status, count(*), max(attempts), min(heartbeat), now() "
                                    "FROM pgqueuer GROUP BY 1, 2")
            dead = "" if worker.alive() else f"; the worker died:\n{worker.tail()}"
            state = f"webhooks {[tuple(r) for r in hooks]}; jobs {[tuple(r) for r in jobs]}"
            raise AssertionError(state + dead) from None
        stored = await fetch(url, "SELECT wamid, count(*) AS n FROM messages WHERE wamid = ANY($1::text[]) "
                                  "GROUP BY wamid", acknowledged)
        assert len(stored) == len(set(acknowledged)) == len(acknowledged)
        assert all(row["n"] == 1 for row in stored)
        assert await count(url, "SELECT count(*) FROM webhook_events WHERE status = 'dead'") == 0

        # the campaign resumed within seconds of the restart (no heartbeat to wait out) and lost nobody: every
        # recipient got exactly one opening message and it is recorded as sent (a send claimed just before the
        # outage was still made, and its outcome recorded once the database was back)
        async def campaign_sent() -> bool:
            assert worker is not None and worker.alive(), worker.tail() if worker else ""
            return await count(url, "SELECT count(*) FROM messages WHERE source = 'automation' AND status = 'sent'"
                               ) == CAMPAIGN_SIZE

        await wait_until(campaign_sent, timeout=120, interval=0.5, what="the whole campaign sent")
        openings = [s.at for s in fake_graph.sent_messages if s.phone_number_id == org.phone_number_id
                    and s.type == "template"]
        per_recipient = Counter(s.recipient for s in fake_graph.sent_messages
                                if s.phone_number_id == org.phone_number_id and s.type == "template")
        assert len(per_recipient) == CAMPAIGN_SIZE and set(per_recipient.values()) == {1}
        resumed = min(at for at in openings if at > up_at) - up_at  # the fake's clock is time.monotonic() too
        assert resumed <= 5.0, resumed
        async with httpx.AsyncClient(base_url=api.base_url, timeout=15) as client:
            # the first ORM request after the restart finds the pool's connections dead: it answers 503 once and
            # SQLAlchemy discards the whole pool (DATABASE_POOL_PRE_PING=false), the next one is served
            answers = [await client.get(f"{API}/flow-automations/{campaign}/stats", headers=org.headers)
                       for _ in range(2)]
        assert [a.status_code for a in answers] in ([200, 200], [503, 200]), [a.text for a in answers]
        final = answers[-1].json()
        assert (final["status"], final["sent"], final["pending"]) == ("completed", CAMPAIGN_SIZE, 0), final
        figures("postgres_restart", acknowledged=len(acknowledged), campaign_resumed_after_seconds=round(resumed, 2),
                webhook_503=len(recorder.of("webhook", 503)), read_503=len(recorder.of("read", 503)),
                stop_seconds=round(stopped_at - down_at, 2), down_seconds=round(up_at - down_at, 2),
                recovered_after_start_seconds=round(recovered, 2),
                requests=sum(len(v) for v in recorder.answers.values()))
    finally:
        if worker is not None:
            worker.stop()
        if api is not None:
            api.stop()
        server.close()


# --------------------------------------------------------------------------- the worker SIGKILLed mid-batch


async def test_a_worker_killed_mid_batch_leaves_every_webhook_processed_exactly_once(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str, fake_graph: FakeGraphServer,
        tmp_path: Path) -> None:
    org = await org_with_number(client, fake_graph)
    senders = [random_wa_id() for _ in range(40)]
    wamids = [new_wamid() for _ in range(300)]
    for n, wamid in enumerate(wamids):
        body, headers = inbound_text(org.phone_number_id, senders[n % len(senders)], wamid, f"order {n}")
        response = await client.post(f"{API}/whatsapp/webhook", content=body, headers=headers)
        assert response.status_code == 200, response.text
    ours = "SELECT count(*) FROM messages WHERE wamid = ANY($1::text[])"
    heartbeat = {"WORKER_HEARTBEAT_SECONDS": "3", "WORKER_POLL_SECONDS": "0.5", **NO_METRICS_PORT}
    # one sender's backlog per batch (about 8 webhooks): the first worker is killed between two of its ~40 batches
    first = WorkerProcess(test_settings, database_url, tmp_path / "worker-1.log", WORKER_INBOX_BATCH="1",
                          **heartbeat).start()
    second = WorkerProcess(test_settings, database_url, tmp_path / "worker-2.log", **heartbeat)
    try:
        async def some_done() -> int:
            assert first.alive(), first.tail()
            done = await count(database_url, ours, wamids)
            return done if done >= 40 else 0

        await wait_until(some_done, timeout=60, interval=0.02, what="the first worker to be mid-batch")
        first.kill()
        at_kill = await count(database_url, ours, wamids)
        assert at_kill < len(wamids), "the first worker finished before it was killed: nothing was tested"
        started = time.monotonic()
        second.start()

        async def all_done() -> bool:  # every message stored, and every delivery marked processed (a delivery
            # whose messages the dead worker had stored is re-claimed once its lease runs out, then marked)
            assert second.alive(), second.tail()
            return await count(database_url, ours, wamids) >= len(wamids) and await count(
                database_url, "SELECT count(*) FROM webhook_events WHERE status <> 'processed' AND "
                              "convert_from(body, 'UTF8') LIKE $1", f"%{org.phone_number_id}%") == 0

        await wait_until(all_done, timeout=120, interval=0.25, what="the second worker to finish the batch")
        finished = time.monotonic() - started
        await asyncio.sleep(1.0)  # anything still in flight would show as a duplicate now
        rows = await fetch(database_url, "SELECT wamid, count(*) AS n FROM messages WHERE wamid = ANY($1::text[]) "
                                         "GROUP BY wamid", wamids)
        assert len(rows) == len(wamids) and all(row["n"] == 1 for row in rows)
        contacts = await count(database_url, "SELECT count(*) FROM contacts WHERE organization_id = $1::uuid "
                                             "AND whatsapp_id = ANY($2::text[])",
                               org.admin.user["organization_id"], senders)
        assert contacts == len(senders)
        pending = await count(database_url, "SELECT count(*) FROM webhook_events WHERE status <> 'processed' AND "
                                            "convert_from(body, 'UTF8') LIKE $1", f"%{org.phone_number_id}%")
        assert pending == 0
        figures("worker_sigkill", webhooks=len(wamids), processed_before_kill=at_kill,
                second_worker_finished_seconds=round(finished, 2))
    finally:
        second.stop()
        if first.alive():
            first.kill()


# --------------------------------------------------------------------------- a slow, failing Graph API


async def test_sends_through_a_slow_failing_graph_api_are_neither_lost_nor_duplicated(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str, fake_graph: FakeGraphServer,
        tmp_path: Path) -> None:
    org = await org_with_number(client, fake_graph)
    fake_graph.set_delay(0.2)
    fake_graph.fail_randomly(0.3, [GraphFault(130429, 400), GraphFault(131000, 500), GraphFault(133004, 503)],
                             seed=7)
    worker = WorkerProcess(test_settings, database_url, tmp_path / "worker.log", WORKER_POLL_SECONDS="0.5",
                           **NO_METRICS_PORT).start()
    try:
        message_ids = [await send_template(client, org, random_wa_id()) for _ in range(120)]
        started = time.monotonic()

        async def all_sent() -> bool:
            assert worker.alive(), worker.tail()
            rows = await fetch(database_url, "SELECT status FROM messages WHERE id = ANY($1::uuid[])", message_ids)
            assert all(row["status"] in ("queued", "sent") for row in rows), [r["status"] for r in rows]
            return all(row["status"] == "sent" for row in rows)

        await wait_until(all_sent, timeout=180, interval=0.5, what="every send to end sent")
        elapsed = time.monotonic() - started
        for message_id in message_ids:
            assert len(sends_of(fake_graph, message_id)) == 1, message_id  # Meta got each exactly once
        refused = [r for r in fake_graph.requests if r.method == "POST" and isinstance(r.json, dict)
                   and r.json.get("biz_opaque_callback_data") in set(message_ids)]
        figures("slow_failing_graph", sends=len(message_ids), graph_requests=len(refused),
                refused=len(refused) - len(message_ids), seconds=round(elapsed, 2),
                sends_per_second=round(len(message_ids) / elapsed, 2))
        assert len(refused) > len(message_ids)  # the faults really happened
    finally:
        fake_graph.fail_randomly(0, [])
        fake_graph.set_delay(0)
        worker.stop()
