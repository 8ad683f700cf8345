"""Contact search on 100k contacts of one organization: the query PyTake runs (substring, case-insensitive,
newest first, with the total), timed with the trigram index PyTake creates and without it (the baseline),
on the same server in the same run.

``python -m bench contacts_search [--contacts N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from bench.common import (
    copy_contacts,
    create_database,
    drop_database,
    plain_dsn,
    print_table,
    progress,
    save_result,
    server_url,
)

QUERIES = ["maria", "silva", "@gmail", "5511987", "zzz-no-match", "ana"]
SEARCH = """SELECT id, whatsapp_id, name, email, created_at FROM contacts
            WHERE organization_id = $1 AND search_text LIKE $2 ESCAPE '\\'
            ORDER BY created_at DESC, id DESC LIMIT 50"""
COUNT = "SELECT count(*) FROM contacts WHERE organization_id = $1 AND search_text LIKE $2 ESCAPE '\\'"


async def _seed(connection: asyncpg.Connection, org: uuid.UUID, contacts: int) -> None:
    await connection.execute(
        "INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, 'bench', $2, $2)", org,
        datetime.now(UTC))
    await copy_contacts(connection, org, contacts)


async def _time(connection: asyncpg.Connection, org: uuid.UUID, repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        for text in QUERIES:
            started = time.perf_counter()
            await connection.fetch(SEARCH, org, f"%{text}%")
            await connection.fetchval(COUNT, org, f"%{text}%")
            timings.append((time.perf_counter() - started) * 1000)
    return timings


async def run(contacts: int, repeat: int) -> dict[str, float | int | bool]:
    server = server_url()
    url = await create_database(server, "bench_contacts")
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        org = uuid.uuid4()
        await _seed(connection, org, contacts)
        has_index = bool(await connection.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'contacts_search_trgm_idx'"))
        progress("timing with PyTake's index" if has_index else "no pg_trgm on this server: timing the scan")
        indexed = await _time(connection, org, repeat)
        if has_index:
            await connection.execute("DROP INDEX contacts_search_trgm_idx")
            await connection.execute("ANALYZE contacts")
        progress("timing the baseline (no search index)")
        baseline = await _time(connection, org, repeat)
    finally:
        await connection.close()
        await drop_database(server, url)
    result: dict[str, float | int | bool] = {
        "contacts": contacts, "trigram_index": has_index,
        "indexed_p50_ms": statistics.median(indexed), "indexed_p95_ms": statistics.quantiles(indexed, n=20)[18],
        "baseline_p50_ms": statistics.median(baseline), "baseline_p95_ms": statistics.quantiles(baseline, n=20)[18]}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench contacts_search")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.contacts, args.repeat))
    print_table(f"contact search on {args.contacts} contacts (query + total), lower is better",
                [("search p50", float(result["indexed_p50_ms"]), float(result["baseline_p50_ms"]), "ms"),
                 ("search p95", float(result["indexed_p95_ms"]), float(result["baseline_p95_ms"]), "ms")])
    progress(f"saved {save_result('contacts_search', result)}")


if __name__ == "__main__":
    main()
