"""Campaign, closed loop: PyTake sends a campaign while the fake Graph API posts Meta's status webhooks back.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one), a fresh migrated database.
2. The fake Graph API (tests/fake_graph) in its own process; for every send it accepts it posts, as Meta does,
   signed ``sent`` (at once), ``delivered`` (after ``--delivered-after`` s) and ``read`` (after ``--read-after``
   s) status webhooks to PyTake's ``POST /api/v1/whatsapp/webhook``, each carrying our message id as
   ``biz_opaque_callback_data``, from a pool of keep-alive connections.
3. PyTake: the real API process (it receives the status webhooks) and ONE worker process, which both sends the
   campaign and applies the returning statuses. The automation (default 10,000 recipients, an opening
   template, ``rate_per_second`` 1,000 on a number at throughput 1,000) is created and started through the API.
4. Figures: sends/s (accepted by the fake, first to last), the dispatch time (start to the last accepted send),
   the time until the automation's stats are final (every recipient ``read``; the campaign ``completed``) and
   its ratio to the dispatch time, and the accepted rate the stats report. Baseline: the fake's own ceiling,
   loaded directly by a light client (``bench.campaign_dispatch``'s baseline) while nothing else runs.

Targets (issue #12): at least 200 sends/s while the statuses flow back, stats final within 1.25x the dispatch
time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import heapq
import hmac
import os
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.campaign_dispatch import (
    API,
    BASELINE_PNID,
    OURS_PNID,
    TOKEN,
    WORKER_CONCURRENCY,
    api_caller,
    create_campaign,
    fake_stats,
    run_baseline,
    stats_route,
)
from bench.common import (
    ROOT,
    UVICORN_FLAGS,
    cli_main,
    create_database,
    drop_database,
    free_port,
    logs_dir,
    plain_dsn,
    print_table,
    progress,
    pytake_env,
    save_result,
    server_url,
    spawn,
    uvicorn_args,
    wait_http,
)
from bench.loadgen import status_body

NAME = "campaign_closed_loop"
APP_SECRET = "bench-closed-loop-secret"


# --------------------------------------------------------------------------- the fake, posting statuses back


def fake_app() -> Any:
    """The fake Graph API with both numbers, ``GET /_bench/stats?pnid=`` and a reporter that posts the status
    webhooks of every accepted send of PyTake's number to ``BENCH_WEBHOOK_URL``.
    ``uvicorn bench.campaign_closed_loop:fake_app --factory``."""
    from contextlib import asynccontextmanager

    import aiohttp
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    from tests.fake_graph.app import create_app
    from tests.fake_graph.state import FakeGraph

    webhook_url, secret = os.environ["BENCH_WEBHOOK_URL"], os.environ["BENCH_APP_SECRET"].encode()
    delivered_after = float(os.environ.get("BENCH_DELIVERED_AFTER", "0.3"))
    read_after = float(os.environ.get("BENCH_READ_AFTER", "1.0"))
    fake = FakeGraph()
    for pnid in (OURS_PNID, BASELINE_PNID):
        fake.add_number(pnid, TOKEN, throughput_level="HIGH")
    posted = {"ok": 0, "failed": 0}

    async def report(stop: asyncio.Event) -> None:
        """Every accepted send of PyTake's number gets its three statuses, in time order."""
        due: list[tuple[float, int, bytes]] = []
        ready: asyncio.Queue[bytes] = asyncio.Queue()
        seen, tie = 0, 0

        async def post(session: aiohttp.ClientSession) -> None:
            while True:
                body = await ready.get()
                signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
                for _ in range(5):  # a 503 (or a broken connection) is retried, as Meta does
                    try:
                        async with session.post(webhook_url, data=body, headers={
                                "Content-Type": "application/json", "X-Hub-Signature-256": signature}) as answer:
                            await answer.read()
                            if answer.status == 200:
                                posted["ok"] += 1
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.5)
                else:
                    posted["failed"] += 1

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            posters = [asyncio.create_task(post(session)) for _ in range(32)]
            while not stop.is_set():
                sends = fake.sent_messages
                for send in sends[seen:]:
                    if send.phone_number_id != OURS_PNID:
                        continue
                    for status, after in (("sent", 0.0), ("delivered", delivered_after), ("read", read_after)):
                        tie += 1
                        body = status_body(OURS_PNID, send.wamid, status, send.recipient, int(time.time()),
                                           tracking=send.biz_opaque_callback_data)
                        heapq.heappush(due, (time.monotonic() + after, tie, body))
                seen = len(sends)
                now = time.monotonic()
                while due and due[0][0] <= now:
                    ready.put_nowait(heapq.heappop(due)[2])
                await asyncio.sleep(0.02)
            for task in posters:
                task.cancel()

    @asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        stop = asyncio.Event()
        reporter = asyncio.create_task(report(stop))
        yield
        stop.set()
        await reporter

    stats = stats_route(fake, lambda: {"statuses_posted": posted["ok"], "statuses_failed": posted["failed"]})
    return Starlette(routes=[Route("/_bench/stats", stats), Mount("/", app=create_app(fake))], lifespan=lifespan)


# --------------------------------------------------------------------------- PyTake, over its own API


async def set_up(base_url: str, count: int, rate: float) -> tuple[dict[str, str], str]:
    """Through PyTake's API process (``create_campaign``); the admin's headers and the automation's id."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        headers, automation = await create_campaign(api_caller(client), count, rate)
    return headers, str(automation["id"])


async def stats_of(base_url: str, headers: dict[str, str], automation_id: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        body: dict[str, Any] = (await client.get(f"{API}/flow-automations/{automation_id}/stats",
                                                 headers=headers)).json()
        return body


async def run_pytake(options: argparse.Namespace, database_url: str, graph_url: str, api_url: str,
                     env: dict[str, str], logs: Any) -> dict[str, Any]:
    headers, automation_id = await set_up(api_url, options.recipients, options.rate)
    progress(f"automation for {options.recipients} recipients created; starting one worker process")
    worker = spawn("pytake-worker", ["-m", "entrypoints.worker.main"], env, logs)
    try:
        await asyncio.sleep(2.0)
        if not worker.alive():
            raise RuntimeError(f"the worker exited:\n{worker.tail()}")
        import httpx

        async with httpx.AsyncClient(base_url=api_url, timeout=30) as client:
            started = await client.post(f"{API}/flow-automations/{automation_id}/start", headers=headers)
            if started.status_code != 200:
                raise RuntimeError(f"start: {started.status_code} {started.text}")
        began, wall_began = time.monotonic(), time.time()
        last_report, dispatch_s, final_s = began, None, None
        graph: dict[str, Any] = {}
        stats: dict[str, Any] = {}
        samples: list[dict[str, Any]] = []
        while time.monotonic() - began < options.budget:
            graph = await fake_stats(graph_url, OURS_PNID)
            stats = await stats_of(api_url, headers, automation_id)
            elapsed = time.monotonic() - began
            if dispatch_s is None and graph["accepted"] >= options.recipients:
                dispatch_s = elapsed
            if stats.get("read") == options.recipients and stats.get("status") == "completed":
                final_s = elapsed
                break
            if not worker.alive():
                raise RuntimeError(f"the worker exited:\n{worker.tail()}")
            if time.monotonic() - last_report >= 3:
                samples.append({"t": round(elapsed, 1), "accepted": graph["accepted"], "phase": stats.get("phase"),
                                "sent": stats.get("sent"), "delivered": stats.get("delivered"),
                                "read": stats.get("read"), "pending": stats.get("pending")})
                progress(f"pytake: {graph['accepted']}/{options.recipients} accepted by the fake, stats: "
                         f"phase {stats.get('phase')}, pending {stats.get('pending')}, sent {stats.get('sent')}, "
                         f"delivered {stats.get('delivered')}, read {stats.get('read')}; "
                         f"{graph['statuses_posted']} status webhooks posted")
                last_report = time.monotonic()
            await asyncio.sleep(0.2)
        connection = await asyncpg.connect(plain_dsn(database_url))
        try:
            backlog = await connection.fetchval("SELECT count(*) FROM webhook_events WHERE status = 'pending'")
        finally:
            await connection.close()
    finally:
        worker.stop()
    if graph.get("duplicated"):
        raise RuntimeError(f"{graph['duplicated']} recipients got more than one opening message")
    span = graph.get("span_s") or float("nan")
    sends_per_s = (graph["accepted"] - 1) / span if span == span and span > 0 else float("nan")
    if dispatch_s is None:  # from the start to the last accepted send, as far as it got
        dispatch_s = (graph["last_at"] - graph["first_at"]) if graph.get("last_at") else float("nan")
    ratio = final_s / dispatch_s if final_s and dispatch_s else float("nan")
    progress(f"pytake: {graph['accepted']} accepted at {sends_per_s:.0f}/s; dispatch {dispatch_s:.1f} s, "
             f"stats final after {final_s if final_s is not None else float('nan'):.1f} s ({ratio:.2f}x); "
             f"stats report {stats.get('messages_per_second')} accepted/s; webhooks still pending: {backlog}")
    return {"recipients": options.recipients, "accepted": graph["accepted"], "sends_per_s": sends_per_s,
            "dispatch_s": dispatch_s, "final_s": final_s, "final_over_dispatch": ratio,
            "stats": stats, "statuses_posted": graph.get("statuses_posted"),
            "statuses_failed": graph.get("statuses_failed"), "webhooks_pending_at_end": backlog,
            "started_at_epoch": wall_began, "samples": samples}


# --------------------------------------------------------------------------- the run


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    database_url = await create_database(server, "pytake_bench")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = logs_dir()
    data_dir = ROOT / ".data" / "bench" / "data"
    graph_port, api_port = free_port(), free_port()
    graph_url, api_url = f"http://127.0.0.1:{graph_port}", f"http://127.0.0.1:{api_port}"
    env = pytake_env(database_url, data_dir, WHATSAPP_GRAPH_URL=graph_url, WHATSAPP_APP_SECRET=APP_SECRET,
                     PASSWORD_HASH_TIME_COST="1", PASSWORD_HASH_MEMORY_KIB="1024")
    fake = spawn("fake-graph", ["-m", "uvicorn", "bench.campaign_closed_loop:fake_app", "--factory", "--port",
                                str(graph_port), *UVICORN_FLAGS], {
        "BENCH_WEBHOOK_URL": f"{api_url}/api/v1/whatsapp/webhook", "BENCH_APP_SECRET": APP_SECRET,
        "BENCH_DELIVERED_AFTER": str(options.delivered_after), "BENCH_READ_AFTER": str(options.read_after)}, logs)
    api = spawn("pytake-api", uvicorn_args("entrypoints.http.app:create_app", api_port), env, logs)
    try:
        await wait_http(fake, f"{graph_url}/_bench/stats?pnid=x")
        await wait_http(api, f"{api_url}/health")
        progress(f"fake Graph API at {graph_url}, PyTake's API at {api_url}")
        ours = await run_pytake(options, database_url, graph_url, api_url, env, logs)
        api.stop()
        progress(f"baseline: {options.recipients} sends straight to the fake, {WORKER_CONCURRENCY} concurrent")
        theirs = await asyncio.to_thread(run_baseline, {
            "url": f"{graph_url}/v25.0/{BASELINE_PNID}/messages", "count": options.recipients,
            "concurrency": WORKER_CONCURRENCY, "budget": options.budget}, logs)
        progress(f"baseline: {theirs['accepted']} accepted at {theirs['accepted_per_s']:.0f}/s")
    finally:
        api.stop()
        fake.stop()
        await drop_database(server, database_url)

    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"recipients": options.recipients, "rate_per_second": options.rate, "budget_s": options.budget,
                     "delivered_after_s": options.delivered_after, "read_after_s": options.read_after,
                     "uvicorn": UVICORN_FLAGS},
        "pytake": ours, "baseline": theirs,
    }
    print_table(f"campaign, closed loop ({options.recipients} recipients; sent/delivered/read webhooks posted back; "
                "one worker)", [
        ("sends accepted/s while statuses flow", ours["sends_per_s"], theirs["accepted_per_s"], "1/s"),
        ("sends accepted/s, against the target", ours["sends_per_s"], 200.0, "1/s"),
        ("dispatch time", ours["dispatch_s"], ours["dispatch_s"], "s"),
        ("stats final after", ours["final_s"] or float("nan"), 1.25 * ours["dispatch_s"], "s"),
    ])
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipients", type=int, default=int(os.environ.get("BENCH_RECIPIENTS", 10_000)),
                        help="audience size (default 10000, env BENCH_RECIPIENTS)")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="rate_per_second of the automation (default 1000: the number's throughput)")
    parser.add_argument("--budget", type=float, default=float(os.environ.get("BENCH_BUDGET", 180)),
                        help="seconds the campaign may take before it is stopped (default 180)")
    parser.add_argument("--delivered-after", type=float, default=0.3, help="seconds from sent to delivered")
    parser.add_argument("--read-after", type=float, default=1.0, help="seconds from sent to read")
    parser.add_argument("--quick", action="store_true", help="2,000 recipients")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main(NAME, __doc__ or NAME, add_arguments, {"recipients": 2000}, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
