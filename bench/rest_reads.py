"""REST reads: PyTake's list endpoints against bare FastAPI endpoints running the same SQL.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one) and a fresh database with migrations.
2. PyTake's API under uvicorn in its own process; a real account through ``POST /auth/register``; N contacts
   COPied into its organization, ANALYZE; a fresh access token through ``POST /auth/login``.
3. Scenarios, each loaded by a separate load-generator process (``bench.loadgen httpload``) with C concurrent
   clients for D seconds after a short unmeasured warm-up, every request with the bearer token:
   - ``list``: ``GET /api/v1/contacts?limit=50``;
   - ``search``: ``GET /api/v1/contacts?query=<rare term>`` (rotating digits of whatsapp_id, one match each);
   - ``search_common``: ``GET /api/v1/contacts?query=<common term>`` (names, a domain; thousands of matches);
   - ``others``: the other list endpoints, briefly (flows, automations, secrets, users, a contact's messages:
     small lists; their cost is authentication, the query and the count).
4. Servers, one after the other under the same uvicorn flags (``bench.common.UVICORN_FLAGS``):
   - ``pytake``: PyTake with one API process, then ``pytake_2``: ``--workers 2`` (what ``API_WORKERS=2`` serves);
   - ``baseline``: ``baseline_app`` below, one process: one asyncpg pool, no authentication, no tenancy settings,
     rows rendered by orjson, the same SQL PyTake runs per request (the page with its count capped at 10,001
     rows in one statement, or the page alone for the unfiltered list, whose total PyTake serves from its
     per-process estimate), the same X-Total-Count; and ``/constant``: a constant JSON body (a 50-contact page
     rendered once), the ceiling of a FastAPI endpoint on this machine.

Prints tables (figure, PyTake, baseline, ratio) and saves JSON under bench/results/, with the load averages.

``python -m bench rest_reads [--contacts N] [--duration S] [--concurrency C] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import asyncpg
from fastapi import FastAPI, Response  # module level: FastAPI resolves the endpoint's annotations here

from bench.common import (
    BASELINE_POOL,
    ROOT,
    UVICORN_FLAGS,
    cli_main,
    copy_contacts,
    create_database,
    drop_database,
    free_port,
    login_token,
    logs_dir,
    plain_dsn,
    print_table,
    progress,
    pytake_env,
    register_account,
    save_result,
    server_url,
    spawn,
    uvicorn_args,
    wait_http,
)
from bench.loadgen import run_httpload

NAME = "rest_reads"
EMAIL, PASSWORD = "bench-reader@example.com", "bench-reader-password"
COMMON_TERMS = ["maria", "silva", "souza", "@gmail", "ana", "pedro.lima"]
"""Thousands of matches each on 100k contacts: their totals are estimates (past 10,000) or large exact counts."""
RARE_TERMS = [f"{n:08d}" for n in (17, 4321, 33333, 51234, 77777, 99001)]
"""Digits of one whatsapp_id each (``55119`` + 8 digits in ``copy_contacts``): one match, an exact total."""
EXACT_LIMIT = 10_000  # PyTake's LIST_COUNT_EXACT_LIMIT default: the baseline counts as far

COLUMNS = ("id, organization_id, whatsapp_id, name, email, tags, attributes, opted_out, opted_out_at, created_at, "
           "updated_at")
PAGE = f"""SELECT {COLUMNS} FROM contacts WHERE organization_id = $1 AND search_text LIKE $4 ESCAPE '\\'
           ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"""
CAPPED = f"""SELECT count(*) FROM (SELECT 1 FROM contacts WHERE organization_id = $1 AND search_text LIKE $4
             ESCAPE '\\' LIMIT {EXACT_LIMIT + 1}) AS capped"""
SEARCH = f"SELECT page.*, ({CAPPED}) AS capped_total FROM ({PAGE}) AS page"
LIST = f"SELECT {COLUMNS} FROM contacts WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"


# --------------------------------------------------------------------------- the baseline, as its own process


def baseline_app() -> Any:
    """The bare endpoints: ``uvicorn bench.rest_reads:baseline_app --factory`` (BENCH_DATABASE_URL, BENCH_ORG_ID)."""
    import json
    from contextlib import asynccontextmanager

    import orjson

    dsn, org = os.environ["BENCH_DATABASE_URL"], uuid.UUID(os.environ["BENCH_ORG_ID"])
    state: dict[str, Any] = {}

    async def jsonb(connection: asyncpg.Connection) -> None:
        await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=BASELINE_POOL, max_size=BASELINE_POOL, init=jsonb)
        async with state["pool"].acquire() as connection:  # the constant: a real page, rendered once
            rows = await connection.fetch(LIST, org, 50, 0)
        state["constant"] = orjson.dumps([dict(r) for r in rows], default=str)
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/contacts", response_model=None)
    async def contacts(query: str | None = None, limit: int = 50, offset: int = 0) -> Response:
        async with state["pool"].acquire() as connection:
            if query:
                pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = await connection.fetch(SEARCH, org, limit, offset, pattern)
                total = rows[0]["capped_total"] if rows else 0
            else:
                rows = await connection.fetch(LIST, org, limit, offset)
                total = 100_000
        body = orjson.dumps([{k: v for k, v in row.items() if k != "capped_total"} for row in rows], default=str)
        return Response(body, media_type="application/json", headers={"X-Total-Count": str(total)})

    @app.get("/constant")
    async def constant() -> Response:
        return Response(state["constant"], media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --------------------------------------------------------------------------- set-up and load


async def seed(base_url: str, database_url: str, contacts: int) -> uuid.UUID:
    """A real account through the API, then ``contacts`` contacts COPied into its organization."""
    answer = await register_account(base_url, EMAIL, PASSWORD, "Bench Reads")
    org = uuid.UUID(answer["user"]["organization_id"])
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await copy_contacts(connection, org, contacts)
        await connection.execute("VACUUM ANALYZE contacts")  # index-only counts, as a table settles in production
    finally:
        await connection.close()
    return org


async def other_lists(base_url: str, token: str) -> list[str]:
    """A few rows behind each of the other list endpoints (a secret, a flow, a user), and their paths."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, headers=headers) as client:
        for n in range(3):
            (await client.post("/api/v1/secrets/", json={"key": f"BENCH_{n}", "value": "v" * 20,
                                                          "environment": "production"})).raise_for_status()
            (await client.post("/api/v1/users", json={"email": f"viewer{n}@example.com", "name": "Viewer",
                                                      "role": "viewer", "password": PASSWORD})).raise_for_status()
        contact = (await client.get("/api/v1/contacts", params={"limit": 1})).json()[0]["id"]
    return ["/api/v1/flows", "/api/v1/flow-automations", "/api/v1/secrets/", "/api/v1/users",
            f"/api/v1/contacts/{contact}/messages"]


def scenario_paths(name: str) -> list[str]:
    if name == "list":
        return ["/api/v1/contacts?limit=50"]
    if name == "search":
        return ["/api/v1/contacts?" + urlencode({"query": t}) for t in RARE_TERMS]
    if name == "search_common":
        return ["/api/v1/contacts?" + urlencode({"query": t}) for t in COMMON_TERMS]
    if name == "constant":
        return ["/constant"]
    raise ValueError(f"unknown scenario {name!r}")


def load_config(base_url: str, token: str, options: argparse.Namespace, paths: list[str],
                duration: float | None = None) -> dict[str, Any]:
    return {"base_url": base_url, "warmup_path": "/health", "warmup_s": options.warmup,
            "duration": duration or options.duration,
            "groups": [{"name": "reads", "concurrency": options.concurrency,
                        "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                        "requests": [{"method": "GET", "path": path} for path in paths]}]}


async def totals(base_url: str, token: str) -> dict[str, int]:
    """``X-Total-Count`` per rare term: PyTake and the baseline must find the same contacts."""
    import httpx

    found = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for term in RARE_TERMS:
            response = await client.get("/api/v1/contacts", params={"query": term})
            response.raise_for_status()
            found[term] = int(response.headers["X-Total-Count"])
    return found


async def load(name: str, base_url: str, token: str, options: argparse.Namespace, paths: list[str], logs: Any,
               duration: float | None = None) -> dict[str, Any]:
    progress(f"{name}: {options.concurrency} clients for {duration or options.duration:.0f} s on {paths[0]}"
             + (f" (+{len(paths) - 1} more)" if len(paths) > 1 else ""))
    result = await asyncio.to_thread(run_httpload, load_config(base_url, token, options, paths, duration),
                                     logs / f"loadgen-{name}.log")
    reads = result["groups"]["reads"]
    result["load_average"] = os.getloadavg()
    progress(f"{name}: {reads['ok_per_s']:.0f} requests/s, p50 {reads['p50_ms']:.1f} ms, p99 {reads['p99_ms']:.1f} ms,"
             f" statuses {reads['statuses']}, load generator CPU {result['loadgen_cpu']:.0%}, "
             f"load average {result['load_average'][0]:.1f}")
    return result


async def serve_pytake(name: str, env: dict[str, str], logs: Any, workers: int) -> tuple[Any, str]:
    port = free_port()
    args = uvicorn_args("entrypoints.http.app:create_app", port)
    if workers > 1:
        args[args.index("--workers") + 1] = str(workers)
    child = spawn(name, args, env, logs)
    base_url = f"http://127.0.0.1:{port}"
    await wait_http(child, f"{base_url}/health")
    return child, base_url


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    database_url = await create_database(server, "bench_reads")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = logs_dir()
    results: dict[str, dict[str, Any]] = {}
    short = max(2.0, options.duration / 3)
    try:
        env = pytake_env(database_url, ROOT / ".data" / "bench" / "data")  # one signing key: the token works on both
        pytake, base_url = await serve_pytake("pytake-api", env, logs, 1)
        try:
            org = await seed(base_url, database_url, options.contacts)
            token = await login_token(base_url, EMAIL, PASSWORD)
            others = await other_lists(base_url, token)
            ours_totals = await totals(base_url, token)
            progress(f"totals per rare term {ours_totals}")
            for scenario in ("list",) if options.list_only else ("list", "search", "search_common"):
                results[f"pytake/{scenario}"] = await load(f"pytake-{scenario}", base_url, token, options,
                                                           scenario_paths(scenario), logs)
            for path in [] if options.list_only else others:
                results[f"pytake/{path}"] = await load(f"pytake-{path.split('/')[3]}", base_url, token, options,
                                                       [path], logs, short)
        finally:
            pytake.stop()

        pytake, base_url = await serve_pytake("pytake-api-2", env, logs, 2)
        try:
            for scenario in ("list",) if options.list_only else ("list", "search"):
                results[f"pytake_2/{scenario}"] = await load(f"pytake2-{scenario}", base_url, token, options,
                                                             scenario_paths(scenario), logs)
        finally:
            pytake.stop()

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        baseline = spawn("baseline-api", uvicorn_args("bench.rest_reads:baseline_app", port),
                         {"BENCH_DATABASE_URL": plain_dsn(database_url), "BENCH_ORG_ID": str(org)}, logs)
        try:
            await wait_http(baseline, f"{base_url}/health")
            theirs_totals = await totals(base_url, token)
            if theirs_totals != ours_totals:
                raise RuntimeError(f"the baseline finds {theirs_totals}, PyTake {ours_totals}")
            for scenario in ("list", "constant") if options.list_only else ("list", "search", "search_common",
                                                                             "constant"):
                results[f"baseline/{scenario}"] = await load(f"baseline-{scenario}", base_url, token, options,
                                                             scenario_paths(scenario), logs)
        finally:
            baseline.stop()
    finally:
        await drop_database(server, database_url)

    def figure(key: str) -> dict[str, Any]:
        reads: dict[str, Any] = results[key]["groups"]["reads"]
        return reads

    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"contacts": options.contacts, "concurrency": options.concurrency, "duration_s": options.duration,
                     "warmup_s": options.warmup, "rare_terms": RARE_TERMS, "common_terms": COMMON_TERMS,
                     "uvicorn": UVICORN_FLAGS, "baseline_pool": BASELINE_POOL},
        "totals": ours_totals, "results": results,
    }
    rows: list[tuple[str, float, float, str]] = []
    scenarios = (("list", "GET /contacts?limit=50"),) if options.list_only else (
        ("list", "GET /contacts?limit=50"), ("search", "GET /contacts?query=<rare>"))
    for scenario, label in scenarios:
        for server_key, who in (("pytake", "1 API process"), ("pytake_2", "2 API processes")):
            a, b = figure(f"{server_key}/{scenario}"), figure(f"baseline/{scenario}")
            rows += [(f"{label}, {who}: requests/s", a["ok_per_s"], b["ok_per_s"], "1/s"),
                     (f"{label}, {who}: p50", a["p50_ms"], b["p50_ms"], "ms"),
                     (f"{label}, {who}: p99", a["p99_ms"], b["p99_ms"], "ms")]
    if not options.list_only:
        a, b = figure("pytake/search_common"), figure("baseline/search_common")
        rows.append(("GET /contacts?query=<common>: requests/s", a["ok_per_s"], b["ok_per_s"], "1/s"))
    constant = figure("baseline/constant")
    rows.append(("GET /contacts?limit=50 vs constant JSON: requests/s", figure("pytake/list")["ok_per_s"],
                 constant["ok_per_s"], "1/s"))
    for path in [] if options.list_only else others:
        a = figure(f"pytake/{path}")
        rows.append((f"{path.replace('/api/v1', '')[:40]}: requests/s (p99 ms)", a["ok_per_s"], a["p99_ms"], ""))
    errors = sum(int(r["groups"]["reads"]["errors"]) for r in results.values())
    print_table(f"REST reads on {options.contacts} contacts, {options.concurrency} clients, {options.duration:.0f} s "
                f"each (others {short:.0f} s); load average {os.getloadavg()[0]:.1f}; errors {errors}", rows)
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts in the organization (100000)")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 15)),
                        help="seconds of measured load per scenario (default 15, env BENCH_DURATION)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds of the same load first (3)")
    parser.add_argument("--list-only", action="store_true",
                        help="only GET /contacts?limit=50 (1 and 2 API processes, the bare endpoint, constant JSON)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5000 contacts, 3 s, 1 s warm-up")


QUICK = {"contacts": 5000, "duration": 3.0, "warmup": 1.0}  # --quick: a smoke run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main("rest_reads", __doc__ or "", add_arguments, QUICK, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
