"""REST reads: PyTake's ``GET /api/v1/contacts?query=`` against a bare FastAPI endpoint running the same SQL.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one) and a fresh database with migrations.
2. PyTake's API under uvicorn in its own process; a real account through ``POST /auth/register``; N contacts
   COPied into its organization, ANALYZE; a fresh access token through ``POST /auth/login``.
3. Load, PyTake: a load-generator process (``bench.loadgen httpload``) with C concurrent clients for D seconds,
   ``GET /api/v1/contacts?query=<rotating terms>`` (default page of 50) with the bearer token, after a short
   unmeasured warm-up: successful requests/s, p50, p99, errors.
4. Load, baseline: ``baseline_app`` (below) under the same uvicorn flags (``bench.common.UVICORN_FLAGS``), in its
   own process: one asyncpg pool, no authentication, no tenancy session settings, the same search SQL (substring
   LIKE on ``search_text`` for the organization, newest first, LIMIT 50) plus the count, returned as JSON with
   ``X-Total-Count``. The same load.

Prints a table (figure, PyTake, baseline, ratio) and saves JSON under bench/results/.

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
TERMS = ["maria", "silva", "souza", "@gmail", "ana", "pedro.lima", "0004", "zzz-no-match"]
"""Rotated over the requests: common and rare names, a domain, digits of whatsapp_id, and no match at all."""

COLUMNS = ("id, organization_id, whatsapp_id, name, email, tags, attributes, opted_out, opted_out_at, created_at, "
           "updated_at")
SEARCH = f"""SELECT {COLUMNS} FROM contacts WHERE organization_id = $1 AND search_text LIKE $2 ESCAPE '\\'
             ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4"""
COUNT = "SELECT count(*) FROM contacts WHERE organization_id = $1 AND search_text LIKE $2 ESCAPE '\\'"
LIST = f"SELECT {COLUMNS} FROM contacts WHERE organization_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
COUNT_ALL = "SELECT count(*) FROM contacts WHERE organization_id = $1"


# --------------------------------------------------------------------------- the baseline, as its own process


def baseline_app() -> Any:
    """The bare endpoint: ``uvicorn bench.rest_reads:baseline_app --factory`` (BENCH_DATABASE_URL, BENCH_ORG_ID)."""
    import json
    from contextlib import asynccontextmanager

    dsn, org = os.environ["BENCH_DATABASE_URL"], uuid.UUID(os.environ["BENCH_ORG_ID"])
    state: dict[str, asyncpg.Pool] = {}

    async def jsonb(connection: asyncpg.Connection) -> None:
        await connection.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=BASELINE_POOL, max_size=BASELINE_POOL, init=jsonb)
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/contacts", response_model=None)
    async def contacts(response: Response, query: str | None = None, limit: int = 50,
                       offset: int = 0) -> list[dict[str, Any]]:
        async with state["pool"].acquire() as connection:
            if query:
                pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                rows = await connection.fetch(SEARCH, org, pattern, limit, offset)
                total = await connection.fetchval(COUNT, org, pattern)
            else:
                rows = await connection.fetch(LIST, org, limit, offset)
                total = await connection.fetchval(COUNT_ALL, org)
        response.headers["X-Total-Count"] = str(total)
        return [dict(row) for row in rows]

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
    finally:
        await connection.close()
    return org


def load_config(base_url: str, token: str, options: argparse.Namespace) -> dict[str, Any]:
    return {"base_url": base_url, "warmup_path": "/health", "warmup_s": options.warmup, "duration": options.duration,
            "groups": [{"name": "reads", "concurrency": options.concurrency,
                        "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                        "requests": [{"method": "GET", "path": "/api/v1/contacts?" + urlencode({"query": term})}
                                     for term in TERMS]}]}


async def totals(base_url: str, token: str) -> dict[str, int]:
    """``X-Total-Count`` per term: PyTake and the baseline must find the same contacts."""
    import httpx

    found = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for term in TERMS:
            response = await client.get("/api/v1/contacts", params={"query": term})
            response.raise_for_status()
            found[term] = int(response.headers["X-Total-Count"])
    return found


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    database_url = await create_database(server, "bench_reads")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = logs_dir()
    data_dir = ROOT / ".data" / "bench" / "data"
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        pytake = spawn("pytake-api", uvicorn_args("entrypoints.http.app:create_app", port),
                       pytake_env(database_url, data_dir), logs)
        try:
            await wait_http(pytake, f"{base_url}/health")
            org = await seed(base_url, database_url, options.contacts)
            token = await login_token(base_url, EMAIL, PASSWORD)
            ours_totals = await totals(base_url, token)
            progress(f"pytake-api: {options.concurrency} clients for {options.duration:.0f} s "
                     f"(+{options.warmup:.0f} s warm-up); totals per term {ours_totals}")
            ours = await asyncio.to_thread(run_httpload, load_config(base_url, token, options),
                                           logs / "loadgen-pytake.log")
        finally:
            pytake.stop()
        report("pytake-api", ours)

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        baseline = spawn("baseline-api", uvicorn_args("bench.rest_reads:baseline_app", port),
                         {"BENCH_DATABASE_URL": plain_dsn(database_url), "BENCH_ORG_ID": str(org)}, logs)
        try:
            await wait_http(baseline, f"{base_url}/health")
            theirs_totals = await totals(base_url, token)
            if theirs_totals != ours_totals:
                raise RuntimeError(f"the baseline finds {theirs_totals}, PyTake {ours_totals}")
            progress(f"baseline-api: {options.concurrency} clients for {options.duration:.0f} s")
            theirs = await asyncio.to_thread(run_httpload, load_config(base_url, token, options),
                                             logs / "loadgen-baseline.log")
        finally:
            baseline.stop()
        report("baseline-api", theirs)
    finally:
        await drop_database(server, database_url)

    a, b = ours["groups"]["reads"], theirs["groups"]["reads"]
    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"contacts": options.contacts, "concurrency": options.concurrency, "duration_s": options.duration,
                     "warmup_s": options.warmup, "terms": TERMS, "uvicorn": UVICORN_FLAGS,
                     "baseline_pool": BASELINE_POOL},
        "totals": ours_totals, "pytake": ours, "baseline": theirs,
    }
    print_table(f"REST reads: GET /contacts?query= on {options.contacts} contacts, {options.concurrency} clients, "
                f"{options.duration:.0f} s", [
        ("successful requests/s", a["ok_per_s"], b["ok_per_s"], "1/s"),
        ("latency p50", a["p50_ms"], b["p50_ms"], "ms"),
        ("latency p99", a["p99_ms"], b["p99_ms"], "ms"),
        ("errors", float(a["errors"]), float(b["errors"]), "count"),
    ])
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


def report(name: str, result: dict[str, Any]) -> None:
    reads = result["groups"]["reads"]
    progress(f"{name}: {reads['ok_per_s']:.0f} requests/s, p50 {reads['p50_ms']:.1f} ms, p99 {reads['p99_ms']:.1f} ms,"
             f" statuses {reads['statuses']}, load generator CPU {result['loadgen_cpu']:.0%}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts in the organization (100000)")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 15)),
                        help="seconds of measured load per server (default 15, env BENCH_DURATION)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds of the same load first (3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5000 contacts, 3 s, 1 s warm-up")


QUICK = {"contacts": 5000, "duration": 3.0, "warmup": 1.0}  # --quick: a smoke run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main("rest_reads", __doc__ or "", add_arguments, QUICK, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
