"""Webhooks: PyTake's ``POST /api/v1/whatsapp/webhook`` and its worker against bare baselines, in one run.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one) and a fresh database with migrations,
   one organization owning one registered number (so every webhook routes to it).
2. Ingest, PyTake: the real API under uvicorn in its own process; a load generator process sends signed
   webhooks (each a new inbound text from one of ``--contacts`` senders) from N concurrent senders for D
   seconds: acknowledged webhooks/s, p50, p99.
3. Ingest, baseline: a bare Starlette app (same uvicorn settings) that verifies the HMAC signature and does
   exactly one INSERT of the raw body per request through an asyncpg pool; the same load.
4. Inbound processing, one worker process: the real worker applies what step 2 stored (new and returning
   contacts, message stored, conversation moved, routing run): webhooks/s from the first to the last
   ``processed_at``. Then the same with two worker processes on a second backlog of the same shape (seeded
   straight into the inbox table). Baseline: a bare consumer process that parses each stored body and inserts
   one row per message (``FOR UPDATE SKIP LOCKED`` batches), same time budget.
5. Status processing, one worker process: ``--statuses`` outbound messages already sent, and one signed
   ``delivered`` status webhook for each stored in the inbox: statuses applied per second.

Prints a table (figure, PyTake, baseline, ratio) and saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import (
    BASELINE_POOL,
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
from bench.loadgen import inbound_text_body, run_loadgen, status_body

NAME = "webhook_ingest"
APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "106540352242922"
BASELINE_TABLE = "bench_raw_webhooks"
BASELINE_MESSAGES = "bench_messages"


# --------------------------------------------------------------------------- the baseline, as its own processes


def baseline_app() -> Any:
    """The bare endpoint: read the body, verify the HMAC, one INSERT, 200.
    ``uvicorn bench.webhook_ingest:baseline_app --factory``."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    dsn = os.environ["BENCH_DATABASE_URL"]
    state: dict[str, asyncpg.Pool] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> Any:
        state["pool"] = await asyncpg.create_pool(dsn, min_size=BASELINE_POOL, max_size=BASELINE_POOL)
        yield
        await state["pool"].close()

    secret = os.environ["BENCH_APP_SECRET"].encode()

    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            return JSONResponse({"detail": "bad signature"}, status_code=401)
        await state["pool"].execute(f"INSERT INTO {BASELINE_TABLE} (body) VALUES ($1)", body)
        return JSONResponse({"status": "received"})

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/webhook", webhook, methods=["POST"]), Route("/health", health)],
                     lifespan=lifespan)


async def baseline_consumer(dsn: str, concurrency: int, budget: float) -> None:
    """Parse stored bodies and insert one row per message, in batches locked with SKIP LOCKED."""
    pool = await asyncpg.create_pool(dsn, min_size=concurrency, max_size=concurrency)
    stop_at = time.monotonic() + budget

    async def loop() -> None:
        while time.monotonic() < stop_at:
            async with pool.acquire() as connection, connection.transaction():
                rows = await connection.fetch(
                    f"SELECT id, body FROM {BASELINE_TABLE} WHERE processed_at IS NULL ORDER BY id "
                    "LIMIT 10 FOR UPDATE SKIP LOCKED")
                if not rows:
                    return
                for row in rows:
                    payload = json.loads(row["body"])
                    for entry in payload.get("entry", []):
                        for change in entry.get("changes", []):
                            for message in change.get("value", {}).get("messages", []):
                                await connection.execute(
                                    f"INSERT INTO {BASELINE_MESSAGES} (wamid, wa_id, body) VALUES ($1, $2, $3) "
                                    "ON CONFLICT (wamid) DO NOTHING", message["id"], message.get("from"),
                                    message.get("text", {}).get("body"))
                    await connection.execute(
                        f"UPDATE {BASELINE_TABLE} SET processed_at = clock_timestamp() WHERE id = $1", row["id"])

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    await pool.close()


# --------------------------------------------------------------------------- set-up


async def prepare(database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """Baseline tables, and one organization with one registered WhatsApp number: (organization, number)."""
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.execute(f"""
            CREATE TABLE {BASELINE_TABLE} (id bigserial PRIMARY KEY, body bytea NOT NULL,
                received_at timestamptz NOT NULL DEFAULT now(), processed_at timestamptz);
            CREATE TABLE {BASELINE_MESSAGES} (wamid text PRIMARY KEY, wa_id text, body text);
            GRANT ALL ON {BASELINE_TABLE}, {BASELINE_MESSAGES} TO PUBLIC;
            GRANT ALL ON SEQUENCE {BASELINE_TABLE}_id_seq TO PUBLIC;
        """)
    finally:
        await connection.close()
    from adapters.postgres.database import create_engine, create_session_factory
    from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
    from domain.channel import NumberStatus, WhatsAppNumber
    from domain.identity import Organization

    engine = create_engine(database_url, app_role="pytake_app", pool_size=2)
    uow_factory = SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    now = datetime.now(UTC)
    org = Organization(id=uuid.uuid4(), name="Bench", created_at=now, updated_at=now)
    number = WhatsAppNumber(id=uuid.uuid4(), organization_id=org.id, phone_number_id=PHONE_NUMBER_ID, waba_id=None,
                            phone_number="15550783881", display_name="Bench", status=NumberStatus.ACTIVE,
                            verified=True, access_token_secret_id=uuid.uuid4(), created_at=now, updated_at=now)
    async with uow_factory(org.id) as uow:
        await uow.organizations.add(org)
        await uow.numbers.add(number)
        await uow.commit()
    await engine.dispose()
    return org.id, number.id


INBOX_COLUMNS = ["id", "body_sha256", "body", "received_at", "status", "attempts", "sender_keys"]


async def seed_inbox(database_url: str, bodies: list[bytes], marker: datetime) -> None:
    """Store signed deliveries straight into the inbox, as the route would (``received_at`` = ``marker`` tells
    one backlog from another)."""
    from adapters.whatsapp.webhook_parser import sender_keys

    records = [(uuid.uuid4(), hashlib.sha256(b).hexdigest(), b, marker, "pending", 0,
                list(sender_keys(json.loads(b)))) for b in bodies]
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.copy_records_to_table("webhook_events", records=records, columns=INBOX_COLUMNS)
    finally:
        await connection.close()


def inbound_backlog(count: int, contacts: int, run: str) -> list[bytes]:
    """``count`` inbound texts from ``contacts`` senders: the first message of each sender makes a new contact,
    the others find it."""
    return [inbound_text_body(PHONE_NUMBER_ID, f"55218{n % contacts:08d}", f"hello {n}", f"wamid.{run}.{n}",
                              1_750_000_000 + n) for n in range(count)]


async def seed_sent_messages(database_url: str, org: uuid.UUID, number: uuid.UUID, count: int,
                             run: str) -> list[bytes]:
    """``count`` outbound messages WhatsApp accepted (status ``sent``, wamid known), and one ``delivered`` status
    webhook for each."""
    now = datetime.now(UTC)
    columns = ["id", "organization_id", "number_id", "direction", "type", "content", "status", "wamid", "source",
               "attempts", "occurred_at", "sent_at", "created_at", "updated_at"]
    rows = [(uuid.uuid4(), org, number, "outbound", "template", '{"template": {"name": "promo"}}', "sent",
             f"wamid.out.{run}.{n}", "automation", 1, now, now, now, now) for n in range(count)]
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        await connection.copy_records_to_table("messages", records=rows, columns=columns)
    finally:
        await connection.close()
    return [status_body(PHONE_NUMBER_ID, f"wamid.out.{run}.{n}", "delivered", f"55318{n:08d}", 1_750_000_100 + n,
                        tracking=str(rows[n][0])) for n in range(count)]


async def process_backlog(name: str, workers: int, env: dict[str, str], database_url: str, marker: datetime,
                          budget: float, logs: Path) -> dict[str, Any]:
    """Start ``workers`` worker processes on the backlog stored with ``marker``; webhooks applied per second."""
    stamp = marker.isoformat()
    children = [spawn(f"{name}-{i}", ["-m", "entrypoints.worker.main"], env, logs) for i in range(workers)]
    try:
        return await end_to_end(
            name, children[0], database_url,
            f"SELECT count(*) FROM webhook_events WHERE received_at = '{stamp}' AND {{where}}",
            f"SELECT min(processed_at), max(processed_at), count(processed_at) FROM webhook_events "
            f"WHERE received_at = '{stamp}'", budget)
    finally:
        for child in children:
            child.stop()


async def ingest(name: str, args: list[str], env: dict[str, str], url: str, health: str,
                 options: argparse.Namespace, logs: Path) -> dict[str, Any]:
    child = spawn(name, args, env, logs)
    try:
        await wait_http(child, health)
        progress(f"{name}: up; {options.concurrency} senders for {options.duration:.0f} s")
        result = await asyncio.to_thread(run_loadgen, {
            "url": url, "warmup_url": health, "app_secret": APP_SECRET, "phone_number_id": PHONE_NUMBER_ID,
            "concurrency": options.concurrency, "duration": options.duration, "contacts": options.contacts,
        }, logs / name)
        progress(f"{name}: {result['acknowledged_per_s']:.0f} acknowledged/s, p50 {result['p50_ms']:.1f} ms, "
                 f"p99 {result['p99_ms']:.1f} ms, statuses {result['statuses']}")
        return result
    finally:
        child.stop()


async def end_to_end(name: str, child: Child, database_url: str, count_sql: str, span_sql: str,
                     budget: float) -> dict[str, Any]:
    """Wait until every stored event is processed (or the budget ends); rate from first to last processed."""
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        total = int(await connection.fetchval(count_sql.format(where="true")))
        started = time.monotonic()
        done = 0
        last_report = started
        while time.monotonic() - started < budget:
            done = int(await connection.fetchval(count_sql.format(where="processed_at IS NOT NULL")))
            if done >= total:
                break
            if not child.alive():
                raise RuntimeError(f"{name} exited:\n{child.tail()}")
            if time.monotonic() - last_report >= 5:
                progress(f"{name}: {done}/{total} processed")
                last_report = time.monotonic()
            await asyncio.sleep(0.25)
        first, last, processed = await connection.fetchrow(span_sql)
    finally:
        await connection.close()
    span = (last - first).total_seconds() if processed and processed > 1 else float("nan")
    rate = (processed - 1) / span if span and span == span and span > 0 else float("nan")
    progress(f"{name}: {processed}/{total} processed, {rate:.0f} messages/s")
    return {"stored": total, "processed": int(processed or 0), "all_processed": processed == total,
            "span_s": span, "processed_per_s": rate}


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    database_url = await create_database(server, "pytake_bench")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = ROOT / ".data" / "bench" / "logs" / time.strftime("%Y%m%d-%H%M%S")
    data_dir = ROOT / ".data" / "bench" / "data"
    run_id = uuid.uuid4().hex[:6]
    try:
        org, number = await prepare(database_url)
        env = pytake_env(database_url, data_dir, WHATSAPP_APP_SECRET=APP_SECRET)
        api_port, baseline_port = free_port(), free_port()
        ours = await ingest("pytake-api", ["-m", "uvicorn", "entrypoints.http.app:create_app", "--factory",
                                           "--port", str(api_port), *UVICORN_FLAGS], env,
                            f"http://127.0.0.1:{api_port}/api/v1/whatsapp/webhook",
                            f"http://127.0.0.1:{api_port}/health", options, logs)
        theirs = await ingest("baseline-api", ["-m", "uvicorn", "bench.webhook_ingest:baseline_app", "--factory",
                                               "--port", str(baseline_port), *UVICORN_FLAGS],
                              {"BENCH_DATABASE_URL": plain_dsn(database_url), "BENCH_APP_SECRET": APP_SECRET},
                              f"http://127.0.0.1:{baseline_port}/webhook", f"http://127.0.0.1:{baseline_port}/health",
                              options, logs)
        if options.ack_only:
            print_table(f"webhook ack ({options.concurrency} concurrent senders, {options.duration:.0f} s)", [
                ("acknowledged webhooks/s", ours["acknowledged_per_s"], theirs["acknowledged_per_s"], "1/s"),
                ("ack latency p50", ours["p50_ms"], theirs["p50_ms"], "ms"),
                ("ack latency p99", ours["p99_ms"], theirs["p99_ms"], "ms")])
            return {"benchmark": NAME, "ingest": {"pytake": ours, "baseline": theirs}}

        progress("pytake-worker: applying the stored webhooks (one worker process)")
        worker = spawn("pytake-worker", ["-m", "entrypoints.worker.main"], env, logs)
        try:
            inbound_1 = await end_to_end(
                "pytake-worker", worker, database_url, "SELECT count(*) FROM webhook_events WHERE {where}",
                "SELECT min(processed_at), max(processed_at), count(processed_at) FROM webhook_events",
                options.e2e_budget)
        finally:
            worker.stop()
        marker = datetime(2030, 1, 1, tzinfo=UTC)
        await seed_inbox(database_url, inbound_backlog(options.backlog, options.backlog // 2, run_id), marker)
        progress(f"pytake-workers: applying {options.backlog} more inbound webhooks (two worker processes)")
        inbound_2 = await process_backlog("pytake-workers-2", 2, env, database_url, marker, options.e2e_budget, logs)
        marker = datetime(2030, 1, 2, tzinfo=UTC)
        await seed_inbox(database_url, await seed_sent_messages(database_url, org, number, options.statuses,
                                                                run_id), marker)
        progress(f"pytake-worker: applying {options.statuses} status webhooks (one worker process)")
        statuses_1 = await process_backlog("pytake-statuses", 1, env, database_url, marker, options.e2e_budget, logs)
        delivered = await _count(database_url, f"SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.out.{run_id}.%' "
                                               "AND status = 'delivered'")
        if statuses_1["all_processed"] and delivered != options.statuses:
            raise RuntimeError(f"{delivered} of {options.statuses} messages delivered")

        progress("baseline-worker: processing the stored bodies")
        consumer = spawn("baseline-worker", ["-m", "bench.webhook_ingest", "--consume",
                                             plain_dsn(database_url), str(options.e2e_budget)], {}, logs)
        try:
            theirs_e2e = await end_to_end(
                "baseline-worker", consumer, database_url, f"SELECT count(*) FROM {BASELINE_TABLE} WHERE {{where}}",
                f"SELECT min(processed_at), max(processed_at), count(processed_at) FROM {BASELINE_TABLE}",
                options.e2e_budget)
        finally:
            consumer.stop()
        stored_messages = await _count(database_url, "SELECT count(*) FROM messages WHERE direction = 'inbound'")
        expected = inbound_1["stored"] + options.backlog
        if inbound_1["all_processed"] and inbound_2["all_processed"] and stored_messages != expected:
            raise RuntimeError(f"{stored_messages} messages stored for {expected} inbound webhooks")
    finally:
        await drop_database(server, database_url)

    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(),
        "cpus": os.cpu_count(), "python": sys.version.split()[0],
        "settings": {"concurrency": options.concurrency, "duration_s": options.duration,
                     "e2e_budget_s": options.e2e_budget, "backlog": options.backlog, "statuses": options.statuses,
                     "uvicorn": UVICORN_FLAGS},
        "ingest": {"pytake": ours, "baseline": theirs},
        "end_to_end": {"pytake": inbound_1, "pytake_two_workers": inbound_2, "pytake_statuses": statuses_1,
                       "baseline": theirs_e2e},
    }
    print_table(f"webhook ingest ({options.concurrency} concurrent senders, {options.duration:.0f} s)", [
        ("acknowledged webhooks/s", ours["acknowledged_per_s"], theirs["acknowledged_per_s"], "1/s"),
        ("ack latency p50", ours["p50_ms"], theirs["p50_ms"], "ms"),
        ("ack latency p99", ours["p99_ms"], theirs["p99_ms"], "ms"),
        ("inbound webhooks applied/s, 1 worker", inbound_1["processed_per_s"], theirs_e2e["processed_per_s"], "1/s"),
        ("inbound webhooks applied/s, 2 workers", inbound_2["processed_per_s"], theirs_e2e["processed_per_s"],
         "1/s"),
        ("status webhooks applied/s, 1 worker", statuses_1["processed_per_s"], theirs_e2e["processed_per_s"], "1/s"),
    ])
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


async def _count(database_url: str, sql: str) -> int:
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 8)),
                        help="seconds of load per ingest run (default 8, env BENCH_DURATION)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent senders (default 64)")
    parser.add_argument("--contacts", type=int, default=1000, help="distinct senders in the payloads")
    parser.add_argument("--e2e-budget", type=float, default=60.0,
                        help="seconds each consumer may take to process what was stored (default 60)")
    parser.add_argument("--backlog", type=int, default=10_000,
                        help="inbound webhooks of the two-worker run, half of them from new senders (default 10,000)")
    parser.add_argument("--ack-only", action="store_true",
                        help="only the acknowledgement runs (PyTake and the bare endpoint), nothing saved")
    parser.add_argument("--statuses", type=int, default=10_000,
                        help="status webhooks of the status run (default 10,000)")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench webhook_ingest", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--consume":  # the baseline consumer process
        asyncio.run(baseline_consumer(sys.argv[2], concurrency=20, budget=float(sys.argv[3])))
    else:
        main(sys.argv[1:])
