"""Campaign dispatch: opening messages per second of a flow automation with no effective rate limit, beside the
fake Graph server's own ceiling measured in the same run.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one), a fresh migrated database.
2. The fake Graph API (tests/fake_graph) in its own process under uvicorn, with two numbers at throughput
   level HIGH: one for PyTake, one for the baseline.
3. Set-up through PyTake's own API (in-process): an organization, its token in the vault, the number, an active
   flow and an automation for N new contacts (``{whatsapp_id}`` objects, default 10,000) with an opening
   template and ``rate_per_second`` 1000 (the number's throughput is 1000 too: no effective limit).
4. PyTake: the real worker process (``python -m entrypoints.worker.main``, default concurrency) runs the
   campaign. Figures: recipients dispatched per second (first to last ``dispatched_at``) and opening messages
   accepted by the fake per second (first to last accepted send); every recipient is checked to have got at
   most one opening message, and all of them exactly one when the campaign finished within the budget.
5. Baseline: a load process posting the same N template sends straight to the fake with the worker's
   concurrency: the most any sender could get out of this fake on this machine.

Prints a table (figure, PyTake, baseline, ratio) and saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import (
    ROOT,
    UVICORN_FLAGS,
    Child,
    create_database,
    drop_database,
    free_port,
    plain_dsn,
    print_table,
    progress,
    pytake_env,
    save_result,
    server_url,
    spawn,
    wait_http,
)

NAME = "campaign_dispatch"
APP_SECRET = "bench-app-secret"
OURS_PNID, BASELINE_PNID = "106540352240001", "106540352240002"
TOKEN = "EAAGbench" + "0" * 24
WORKER_CONCURRENCY = 20  # PyTake's worker default (WORKER_CONCURRENCY, at least 20 tasks)
TEMPLATE = {"name": "promo", "language": "en_US",
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{first}}"}]}]}
API = "/api/v1"


# --------------------------------------------------------------------------- the fake, as its own process


def fake_app() -> Any:
    """The fake Graph API with both numbers, plus ``GET /_bench/stats?pnid=`` (accepted sends of a number).
    ``uvicorn bench.campaign_dispatch:fake_app --factory``."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    from tests.fake_graph.app import create_app
    from tests.fake_graph.state import FakeGraph

    fake = FakeGraph()
    for pnid in (OURS_PNID, BASELINE_PNID):
        fake.add_number(pnid, TOKEN, throughput_level="HIGH")

    return Starlette(routes=[Route("/_bench/stats", stats_route(fake)), Mount("/", app=create_app(fake))])


def stats_route(fake: Any, extra: Callable[[], dict[str, Any]] | None = None) -> Any:
    """``GET /_bench/stats?pnid=``: the fake's accepted sends of a number (and ``extra()``'s figures)."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    async def stats(request: Request) -> JSONResponse:
        pnid = request.query_params.get("pnid")
        sends = [s for s in fake.sent_messages if s.phone_number_id == pnid]
        per_recipient: dict[str, int] = {}
        for send in sends:
            per_recipient[send.recipient] = per_recipient.get(send.recipient, 0) + 1
        return JSONResponse({"accepted": len(sends), "recipients": len(per_recipient),
                             "duplicated": sum(1 for n in per_recipient.values() if n > 1),
                             "span_s": sends[-1].at - sends[0].at if len(sends) > 1 else None,
                             "first_at": sends[0].at if sends else None, "last_at": sends[-1].at if sends else None,
                             "rejected": sum(1 for r in fake.requests if r.status >= 400),
                             **(extra() if extra else {})})

    return stats


# --------------------------------------------------------------------------- the baseline load process


async def _loadgen(config: dict[str, Any]) -> dict[str, Any]:
    """The fake's ceiling: ``count`` template sends posted straight to it by ``concurrency`` keep-alive
    connections of the light HTTP/1.1 client (httpx spent a whole core of its own at about 700 requests/s
    while the fake used a tenth of one: it measured the client, not the fake)."""
    from urllib.parse import urlsplit

    from bench.loadgen import _Http11, _raw_request

    url, count, concurrency = config["url"], int(config["count"]), int(config["concurrency"])
    budget = float(config["budget"])
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    numbers = iter(range(count))
    statuses: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json", "Content-Type": "application/json"}
    started = time.perf_counter()

    async def sender() -> None:
        connection = _Http11(host, port, 30.0)
        try:
            for n in numbers:
                if time.perf_counter() - started > budget:
                    return
                template = {"name": TEMPLATE["name"], "language": {"code": "en_US"}, "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": f"C{n}"}]}]}
                body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": f"55119{n:08d}",
                        "type": "template", "template": template, "biz_opaque_callback_data": str(uuid.uuid4())}
                raw = _raw_request("POST", target.path, f"{host}:{port}", headers, json.dumps(body).encode())
                try:
                    key = str(await connection.send(raw))
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    key = type(error).__name__
                statuses[key] = statuses.get(key, 0) + 1
        finally:
            connection.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    accepted = statuses.get("200", 0)
    return {"requests": sum(statuses.values()), "accepted": accepted, "statuses": statuses, "elapsed_s": elapsed,
            "accepted_per_s": accepted / elapsed if elapsed else float("nan"), "concurrency": concurrency}


def run_baseline(config: dict[str, Any], log_dir: Path) -> dict[str, Any]:
    completed = subprocess.run([sys.executable, "-m", "bench.campaign_dispatch", "--loadgen", json.dumps(config)],
                               cwd=ROOT, capture_output=True, timeout=float(config["budget"]) + 120, check=False)
    (log_dir / "baseline-loadgen.log").write_bytes(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"baseline load failed:\n{completed.stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- PyTake


async def set_up(database_url: str, env: dict[str, str], count: int, rate: float) -> tuple[Any, str]:
    """Through PyTake's API: organization, vault token, number, active flow, the automation. Returns the API
    (an ASGI client factory kept open by the caller) and the automation id."""
    import httpx
    from asgi_lifespan import LifespanManager

    from entrypoints.config import load_settings
    from entrypoints.http.app import create_app

    settings = load_settings(env="development", data_dir=Path(env["DATA_DIR"]), log_json=True, log_level="WARNING",
                             whatsapp_graph_url=env["WHATSAPP_GRAPH_URL"], whatsapp_app_secret=APP_SECRET,
                             whatsapp_verify_token=env["WHATSAPP_VERIFY_TOKEN"], jwt_secret=env["JWT_SECRET"],
                             password_hash_time_cost=1, password_hash_memory_kib=1024)
    app = create_app(settings, database_url=database_url)
    manager = LifespanManager(app)
    await manager.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120)

    call = api_caller(client)
    headers, automation = await create_campaign(call, count, rate)

    async def start() -> None:
        await call("POST", f"/flow-automations/{automation['id']}/start", 200, headers=headers)

    async def cancel() -> None:
        await client.post(f"{API}/flow-automations/{automation['id']}/cancel", headers=headers)

    async def close() -> None:
        await client.aclose()
        await manager.__aexit__(None, None, None)

    return {"start": start, "cancel": cancel, "close": close}, str(automation["id"])


Call = Callable[..., Awaitable[dict[str, Any]]]
"""``call(method, path, expected_status, **httpx_kwargs)``: PyTake's API, the answer's JSON."""


def api_caller(client: Any) -> Call:
    """``call`` over an httpx client of PyTake's API (in process or over HTTP)."""

    async def call(method: str, path: str, expect: int, **kwargs: Any) -> dict[str, Any]:
        response = await client.request(method, f"{API}{path}", **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        body: dict[str, Any] = response.json()
        return body

    return call


async def create_campaign(call: Call, count: int, rate: float) -> tuple[dict[str, str], dict[str, Any]]:
    """Through PyTake's API: an organization, its token in the vault, the number, an active flow, and the automation
    for ``count`` new contacts opening with TEMPLATE. Returns the admin's headers and the automation."""
    registered = await call("POST", "/auth/register", 201, json={
        "email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse battery staple",
        "name": "Bench", "organization_name": "Bench"})
    headers = {"Authorization": f"Bearer {registered['access_token']}"}
    secret = await call("POST", "/secrets/", 201, headers=headers,
                        json={"key": "WA_TOKEN", "value": TOKEN, "service": "whatsapp"})
    number = await call("POST", "/whatsapp/numbers", 201, headers=headers,
                        json={"phone_number_id": OURS_PNID, "access_token_secret_id": secret["id"]})
    if number["status"] != "active" or number["throughput_mps"] < rate:
        raise RuntimeError(f"the number is not ready for {rate}/s: {number}")
    nodes = [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
             {"id": "hi", "type": "message", "position": {"x": 0, "y": 0}, "data": {"text": "Thanks {{first}}"}}]
    flow = await call("POST", "/flows", 201, headers=headers, json={
        "name": "Bench campaign", "nodes": nodes, "edges": [{"id": "e", "source": "start", "target": "hi"}],
        "trigger": None})
    await call("PUT", f"/flows/{flow['id']}", 200, headers=headers, json={"status": "active"})
    contacts = [{"whatsapp_id": f"55219{n:08d}", "variables": {"first": f"C{n}"}} for n in range(count)]
    started = time.perf_counter()
    automation = await call("POST", "/flow-automations", 201, headers=headers, json={
        "flow_id": flow["id"], "contacts": contacts, "config": {"rate_per_second": rate, "template": TEMPLATE}})
    progress(f"automation for {automation['total_contacts']} contacts created in "
             f"{time.perf_counter() - started:.1f} s (rate_per_second {automation['config']['rate_per_second']})")
    return headers, automation


async def fake_stats(graph_url: str, pnid: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=10) as client:
        body: dict[str, Any] = (await client.get(f"{graph_url}/_bench/stats", params={"pnid": pnid})).json()
        return body


async def run_pytake(database_url: str, env: dict[str, str], graph_url: str, count: int, rate: float,
                     budget: float, logs: Path, processes: int = 1) -> dict[str, Any]:
    api, automation_id = await set_up(database_url, env, count, rate)
    workers = [spawn(f"pytake-worker-{n}", ["-m", "entrypoints.worker.main"], env, logs) for n in range(processes)]
    worker = workers[0]
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await asyncio.sleep(2.0)  # let the worker connect and start listening
        for worker in workers:
            if not worker.alive():
                raise RuntimeError(f"the worker exited:\n{worker.tail()}")
        await api["start"]()
        began = time.monotonic()
        last_report = began
        accepted = 0
        while time.monotonic() - began < budget:
            accepted = (await fake_stats(graph_url, OURS_PNID))["accepted"]
            if accepted >= count:
                break
            for worker in workers:
                if not worker.alive():
                    raise RuntimeError(f"the worker exited:\n{worker.tail()}")
            if time.monotonic() - last_report >= 3:
                dispatched = await connection.fetchval(
                    "SELECT count(*) FROM automation_recipients WHERE automation_id = $1 AND dispatched_at IS NOT "
                    "NULL", uuid.UUID(automation_id))
                progress(f"pytake: {dispatched}/{count} dispatched, {accepted}/{count} accepted by the fake")
                last_report = time.monotonic()
            await asyncio.sleep(0.25)
        finished = accepted >= count
        if not finished:
            progress(f"pytake: budget of {budget:.0f} s reached; cancelling (rates are over what was done)")
            await api["cancel"]()
            await asyncio.sleep(2.0)
        first, last, dispatched = await connection.fetchrow(
            "SELECT min(dispatched_at), max(dispatched_at), count(dispatched_at) FROM automation_recipients "
            "WHERE automation_id = $1", uuid.UUID(automation_id))
        graph = await fake_stats(graph_url, OURS_PNID)
    finally:
        await connection.close()
        for worker in workers:
            worker.stop()
        await api["close"]()
    span = (last - first).total_seconds() if dispatched and dispatched > 1 else float("nan")
    dispatched_per_s = (dispatched - 1) / span if span and span == span and span > 0 else float("nan")
    sent_span = graph["span_s"] or float("nan")
    accepted_per_s = (graph["accepted"] - 1) / sent_span if sent_span == sent_span and sent_span > 0 else float("nan")
    if graph["duplicated"]:
        raise RuntimeError(f"{graph['duplicated']} recipients got more than one opening message")
    if finished and graph["recipients"] != count:
        raise RuntimeError(f"{graph['recipients']} of {count} recipients got their opening message")
    progress(f"pytake: {dispatched} dispatched at {dispatched_per_s:.0f}/s, {graph['accepted']} accepted at "
             f"{accepted_per_s:.0f}/s; duplicates: {graph['duplicated']}")
    return {"recipients": count, "finished": finished, "dispatched": int(dispatched), "dispatch_span_s": span,
            "dispatched_per_s": dispatched_per_s, "accepted": graph["accepted"], "accepted_span_s": sent_span,
            "accepted_per_s": accepted_per_s, "duplicated": graph["duplicated"], "rejected": graph["rejected"]}


# --------------------------------------------------------------------------- the run


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    logs = ROOT / ".data" / "bench" / "logs" / f"{NAME}-{time.strftime('%Y%m%d-%H%M%S')}"
    data_dir = ROOT / ".data" / "bench" / "data"
    ours: dict[int, dict[str, Any]] = {}
    for processes in options.workers:  # each on a fresh database and a fresh fake (its counts start at zero)
        database_url = await create_database(server, "pytake_bench")
        progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated; "
                 f"{processes} worker process(es)")
        fake, graph_url = await start_fake(logs, f"fake-graph-{processes}")
        try:
            env = pytake_env(database_url, data_dir, WHATSAPP_GRAPH_URL=graph_url, WHATSAPP_APP_SECRET=APP_SECRET)
            ours[processes] = await run_pytake(database_url, env, graph_url, options.recipients, options.rate,
                                               options.budget, logs, processes)
        finally:
            fake.stop()
            await drop_database(server, database_url)
    fake, graph_url = await start_fake(logs, "fake-graph-baseline")
    try:
        progress(f"baseline: {options.recipients} sends straight to the fake, {WORKER_CONCURRENCY} concurrent")
        theirs = await asyncio.to_thread(run_baseline, {
            "url": f"{graph_url}/v25.0/{BASELINE_PNID}/messages", "count": options.recipients,
            "concurrency": WORKER_CONCURRENCY, "budget": options.budget}, logs)
        progress(f"baseline: {theirs['accepted']} accepted at {theirs['accepted_per_s']:.0f}/s, "
                 f"statuses {theirs['statuses']}")
    finally:
        fake.stop()

    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"recipients": options.recipients, "rate_per_second": options.rate, "budget_s": options.budget,
                     "worker_concurrency": WORKER_CONCURRENCY, "uvicorn": UVICORN_FLAGS},
        "pytake": ours[options.workers[0]], "pytake_by_worker_processes": ours, "baseline": theirs,
    }
    rows: list[tuple[str, float, float, str]] = []
    for processes, figures in ours.items():
        rows += [(f"opening messages dispatched/s, {processes} worker process(es)", figures["dispatched_per_s"],
                  theirs["accepted_per_s"], "1/s"),
                 (f"opening messages accepted by Graph/s, {processes} worker process(es)", figures["accepted_per_s"],
                  theirs["accepted_per_s"], "1/s"),
                 (f"the same against the rate cap (rate_per_second and the number's throughput), {processes} "
                  "worker process(es)", figures["accepted_per_s"], options.rate, "1/s")]
    print_table(f"campaign dispatch ({options.recipients} recipients, rate_per_second {options.rate:.0f}, "
                f"{WORKER_CONCURRENCY} concurrent sends)", rows)
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


async def start_fake(logs: Path, name: str) -> tuple[Child, str]:
    port = free_port()
    graph_url = f"http://127.0.0.1:{port}"
    fake = spawn(name, ["-m", "uvicorn", "bench.campaign_dispatch:fake_app", "--factory", "--port", str(port),
                        *UVICORN_FLAGS], {}, logs)
    await wait_http(fake, f"{graph_url}/_bench/stats?pnid=x")
    progress(f"fake Graph API up at {graph_url}")
    return fake, graph_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipients", type=int, default=int(os.environ.get("BENCH_RECIPIENTS", 10_000)),
                        help="audience size (default 10000, env BENCH_RECIPIENTS)")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="rate_per_second of the automation (default 1000: the number's throughput)")
    parser.add_argument("--budget", type=float, default=float(os.environ.get("BENCH_BUDGET", 45)),
                        help="seconds each side may take before it is stopped (default 45, env BENCH_BUDGET)")
    parser.add_argument("--workers", type=lambda text: [int(n) for n in text.split(",")], default=[1, 2],
                        help="PyTake runs by worker processes, comma-separated (default 1,2)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench campaign_dispatch", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--loadgen":  # the baseline load process
        print(json.dumps(asyncio.run(_loadgen(json.loads(sys.argv[2])))), flush=True)
    else:
        main(sys.argv[1:])
