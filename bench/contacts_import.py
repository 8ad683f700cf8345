"""Contact import: a 100,000-row CSV uploaded to ``POST /api/v1/contacts/imports`` and imported by the real worker,
timed from the upload to the ``completed`` status, then the same file again in upsert mode (every row unchanged).

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one), a fresh migrated database.
2. PyTake's API under uvicorn (``UVICORN_FLAGS``) and one worker process (``python -m entrypoints.worker.main``).
3. A synthetic file: ROWS rows (default 100,000) of ``whatsapp_id;name;email;tags;city`` with a column mapping
   (``city`` -> ``attributes.city``), 0.5 % invalid emails (row errors) and 0.5 % repeated numbers (duplicates).
4. PyTake: upload (multipart, ``mode=upsert``), poll ``GET /contacts/imports/{id}`` until it completes; the
   figures are the seconds from the upload to completion (and the worker's own span, ``started_at`` to
   ``finished_at``) and rows per second. The counts are checked (created, failed, duplicates), and so is the second
   import of the same file (all rows unchanged, nothing created or updated).
5. Baseline: the naive import of the same rows, one ``INSERT ... ON CONFLICT DO UPDATE`` statement per row
   (asyncpg, one transaction, no Python validation at all) on BASELINE_ROWS rows (default 10,000), in rows/s.

The machine's load average (1 minute) is recorded before and after. Prints a table and saves JSON under
bench/results/.

``python -m bench contacts_import [--rows N] [--baseline-rows N] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import platform
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.common import (
    ROOT,
    cli_main,
    create_database,
    drop_database,
    free_port,
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

NAME = "contacts_import"
API = "/api/v1"
MAPPING = {"whatsapp_id": "whatsapp_id", "name": "name", "email": "email", "tags": "tags", "city": "attributes.city"}
CITIES = ["São Paulo", "Rio de Janeiro", "Recife", "Natal", "Curitiba", "Belém"]
TAGS = ["vip", "lead", "cliente", "newsletter", "b2b"]


def synthetic_csv(rows: int) -> tuple[bytes, dict[str, int]]:
    """The file and what its import must count: valid distinct rows, invalid rows, duplicates."""
    rng = random.Random(11)
    lines = ["whatsapp_id;name;email;tags;city"]
    failed = duplicates = 0
    valid: list[int] = []  # rows that were the first valid one of their number
    for n in range(rows):
        number = f"+55 11 9{n:08d}"
        email = f"person{n}@example.com"
        roll = rng.random()
        if roll < 0.005:
            email, failed = "not-an-email", failed + 1
        elif roll < 0.010 and valid:
            number, duplicates = f"+55 11 9{rng.choice(valid):08d}", duplicates + 1
        else:
            valid.append(n)
        tags = "|".join(rng.sample(TAGS, rng.randint(0, 2)))
        lines.append(f'{number};"Pessoa {n}, {rng.choice(CITIES)}";{email};{tags};{rng.choice(CITIES)}')
    return ("\r\n".join(lines) + "\r\n").encode(), {"rows": rows, "failed": failed, "duplicates": duplicates,
                                                     "created": rows - failed - duplicates}


async def import_file(base_url: str, token: str, content: bytes, budget: float) -> dict[str, Any]:
    """Upload and wait for completion; returns the finished import and the wall-clock figures."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as client:
        started = time.perf_counter()
        response = await client.post(f"{API}/contacts/imports", headers=headers,
                                     files={"file": ("contacts.csv", content, "text/csv")},
                                     data={"mapping": json.dumps(MAPPING), "mode": "upsert"})
        if response.status_code != 202:
            raise RuntimeError(f"upload: {response.status_code} {response.text[:500]}")
        uploaded = time.perf_counter() - started
        import_id = response.json()["import_id"]
        last_report = time.perf_counter()
        while True:
            found = (await client.get(f"{API}/contacts/imports/{import_id}", headers=headers)).json()
            if found["status"] in ("completed", "failed"):
                break
            if time.perf_counter() - started > budget:
                raise RuntimeError(f"not finished within {budget:.0f} s: {found}")
            if time.perf_counter() - last_report >= 3:
                progress(f"  {found['status']}: {found['rows_processed']}/{found['rows_total']} rows")
                last_report = time.perf_counter()
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
    if found["status"] != "completed":
        raise RuntimeError(f"the import failed: {found['failure_code']}: {found['failure_reason']}")
    worker_span = (datetime.fromisoformat(found["finished_at"]) - datetime.fromisoformat(found["started_at"])
                   ).total_seconds()
    return {"import": found, "upload_s": uploaded, "elapsed_s": elapsed, "worker_s": worker_span}


BASELINE_SQL = """INSERT INTO contacts (id, organization_id, whatsapp_id, name, email, tags, attributes, created_at,
                                       updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, now(), now())
ON CONFLICT (organization_id, whatsapp_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
    tags = EXCLUDED.tags, attributes = contacts.attributes || EXCLUDED.attributes, updated_at = now()"""


async def baseline(database_url: str, content: bytes, rows: int) -> dict[str, Any]:
    """One statement per row for the first ``rows`` rows, read with the csv module; no validation at all (numbers
    only stripped of '+' and spaces)."""
    records = list(csv.reader(io.StringIO(content.decode(), newline=""), delimiter=";"))[1:rows + 1]
    connection = await asyncpg.connect(plain_dsn(database_url))
    try:
        org = uuid.uuid4()
        await connection.execute("INSERT INTO organizations (id, name, created_at, updated_at) "
                                 "VALUES ($1, 'baseline', now(), now())", org)
        started = time.perf_counter()
        async with connection.transaction():
            for number, name, email, tags, city in records:
                await connection.execute(BASELINE_SQL, uuid.uuid4(), org, number.replace("+", "").replace(" ", ""),
                                         name, email, [t for t in tags.split("|") if t], json.dumps({"city": city}))
        elapsed = time.perf_counter() - started
    finally:
        await connection.close()
    return {"rows": len(records), "elapsed_s": elapsed, "rows_per_s": len(records) / elapsed}


async def run(options: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    content, expected = synthetic_csv(options.rows)
    progress(f"{options.rows:,} rows, {len(content) / 1e6:.1f} MB; 1-minute load average {load_before:.2f} "
             f"on {os.cpu_count()} CPUs")
    server = server_url()
    database_url = await create_database(server, "bench_import")
    logs = logs_dir()
    env = pytake_env(database_url, ROOT / ".data" / "bench" / "data")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    api = spawn("pytake-api", uvicorn_args("entrypoints.http.app:create_app", port), env, logs)
    worker = spawn("pytake-worker", ["-m", "entrypoints.worker.main"], env, logs)
    try:
        await wait_http(api, f"{base_url}/health")
        answer = await register_account(base_url, f"bench-{uuid.uuid4().hex[:8]}@example.com",
                                        "correct horse battery staple", "Bench Import")
        token = str(answer["access_token"])
        await asyncio.sleep(1.0)
        if not worker.alive():
            raise RuntimeError(f"the worker exited:\n{worker.tail()}")
        progress("pytake: first import (upsert into an empty organization)")
        first = await import_file(base_url, token, content, options.budget)
        counts = {k: first["import"][k] for k in ("rows_total", "created", "updated", "unchanged", "duplicates",
                                                  "failed")}
        want = {"rows_total": expected["rows"], "created": expected["created"], "updated": 0, "unchanged": 0,
                "duplicates": expected["duplicates"], "failed": expected["failed"]}
        if counts != want:
            raise RuntimeError(f"first import counted {counts}, expected {want}")
        rate = options.rows / first["elapsed_s"]
        progress(f"pytake: {options.rows:,} rows in {first['elapsed_s']:.1f} s ({rate:,.0f} rows/s; upload "
                 f"{first['upload_s']:.1f} s, worker {first['worker_s']:.1f} s) {counts}")
        progress("pytake: the same file again (every row unchanged)")
        second = await import_file(base_url, token, content, options.budget)
        again = {k: second["import"][k] for k in ("created", "updated", "unchanged")}
        if again != {"created": 0, "updated": 0, "unchanged": expected["created"]}:
            raise RuntimeError(f"the second import changed something: {again}")
        progress(f"pytake: again in {second['elapsed_s']:.1f} s {again}")
    finally:
        worker.stop()
        api.stop()
    try:
        progress(f"baseline: one INSERT ... ON CONFLICT per row, {options.baseline_rows:,} rows")
        theirs = await baseline(database_url, content, options.baseline_rows)
        progress(f"baseline: {theirs['rows_per_s']:,.0f} rows/s")
    finally:
        await drop_database(server, database_url)
    load_after = os.getloadavg()[0]
    ours_rate = options.rows / first["elapsed_s"]
    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "load_average_1m": {"before": load_before, "after": load_after},
        "settings": {"rows": options.rows, "file_bytes": len(content), "baseline_rows": options.baseline_rows},
        "pytake": {"first": {**{k: v for k, v in first.items() if k != "import"}, "counts": counts,
                             "rows_per_s": ours_rate},
                   "again": {**{k: v for k, v in second.items() if k != "import"}, "counts": again,
                             "rows_per_s": options.rows / second["elapsed_s"]}},
        "baseline": theirs,
    }
    print_table(f"contact import of {options.rows:,} rows ({len(content) / 1e6:.1f} MB), upload to completed; "
                f"load average {load_before:.2f} -> {load_after:.2f} on {os.cpu_count()} CPUs", [
                    ("rows per second, first import", ours_rate, theirs["rows_per_s"], "1/s"),
                    ("rows per second, same file again", options.rows / second["elapsed_s"], theirs["rows_per_s"],
                     "1/s"),
                    (f"{options.rows:,} rows", first["elapsed_s"], options.rows / theirs["rows_per_s"], "s")])
    progress(f"saved {save_result(NAME, result).relative_to(ROOT)}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the file (default 100000)")
    parser.add_argument("--baseline-rows", type=int, default=10_000,
                        help="rows the one-statement-per-row baseline imports (default 10000)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds an import may take (default 300)")
    parser.add_argument("--quick", action="store_true", help="10,000 rows, 2,000 baseline rows")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main(NAME, __doc__ or "", add_arguments, {"rows": 10_000, "baseline_rows": 2_000}, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
