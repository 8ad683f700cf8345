"""Login storm: does password hashing stall other requests? Latency of a cheap authenticated read, alone and while
other clients log in continuously, on PyTake with its production argon2id cost.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one) and a fresh database with migrations.
2. PyTake's API under uvicorn in its own process (``bench.common.UVICORN_FLAGS``) with the default
   ``PASSWORD_HASH_TIME_COST`` / ``PASSWORD_HASH_MEMORY_KIB`` of ``entrypoints.config.Settings`` (set explicitly,
   so a lowered value in the environment cannot leak in); accounts created through ``POST /auth/register``: one
   reader and one per login client (login throttling only counts failed logins, but distinct users keep each
   login independent anyway).
3. Baseline: a load-generator process (``bench.loadgen httpload``) with C clients calling ``GET /api/v1/auth/me``
   (bearer token: JWT check, session check, one user read) for D seconds: p50, p99, requests/s; plus one client
   on ``GET /health`` (no database, no auth), a probe of the event loop's responsiveness.
4. Storm: the same readers for D seconds while L other clients ``POST /api/v1/auth/login`` with correct passwords
   back to back (each one an argon2id verify, which PyTake runs in a worker thread): the readers' p50/p99 and the
   logins per second achieved.

A hash that blocked the event loop would add whole verify times (see ``verify_ms`` in the output) to the readers'
p99; CPU contention alone (2 cores shared by the hashing threads, the server, PostgreSQL and the load generator)
raises it much less. Prints a table (figure, storm, alone, ratio) and saves JSON under bench/results/.

``python -m bench login_storm [--concurrency C] [--login-clients L] [--duration S] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import (
    ROOT,
    UVICORN_FLAGS,
    cli_main,
    create_database,
    drop_database,
    free_port,
    login_token,
    logs_dir,
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

NAME = "login_storm"
PASSWORD = "bench-storm-password"
READER = "bench-reader@example.com"


def production_hashing() -> dict[str, int]:
    """The argon2id cost PyTake ships with (Settings defaults), not whatever the environment says."""
    from entrypoints.config import Settings

    fields = Settings.model_fields
    return {"time_cost": int(fields["password_hash_time_cost"].default),
            "memory_kib": int(fields["password_hash_memory_kib"].default)}


def verify_ms(hashing: dict[str, int], repeat: int = 3) -> float:
    """Wall time of one argon2id verify at this cost on this machine, measured here (nothing else running)."""
    from adapters.security.argon2_hasher import Argon2PasswordHasher

    hasher = Argon2PasswordHasher(time_cost=hashing["time_cost"], memory_cost_kib=hashing["memory_kib"])

    async def measure() -> float:
        stored = await hasher.hash(PASSWORD)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            await hasher.verify(stored, PASSWORD)
            timings.append(time.perf_counter() - started)
        return min(timings) * 1000

    return asyncio.run(measure())


def login_email(n: int) -> str:
    return f"bench-login-{n}@example.com"


def load_config(base_url: str, token: str, options: argparse.Namespace, storm: bool) -> dict[str, Any]:
    groups: list[dict[str, Any]] = [{
        "name": "reads", "concurrency": options.concurrency,
        "headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"},
        "requests": [{"method": "GET", "path": "/api/v1/auth/me"}]},
        {"name": "health", "concurrency": 1, "requests": [{"method": "GET", "path": "/health"}]}]
    if storm:
        groups.append({
            "name": "logins", "concurrency": options.login_clients, "headers": {"Accept": "application/json"},
            "requests": [{"method": "POST", "path": "/api/v1/auth/login",
                          "json": {"email": login_email(n), "password": PASSWORD}}
                         for n in range(options.login_clients)]})
    return {"base_url": base_url, "warmup_path": "/health", "warmup_s": options.warmup, "duration": options.duration,
            "groups": groups}


async def run(options: argparse.Namespace) -> dict[str, Any]:
    hashing = production_hashing()
    one_verify = await asyncio.to_thread(verify_ms, hashing)
    progress(f"argon2id time_cost {hashing['time_cost']}, memory {hashing['memory_kib']} KiB: one verify takes "
             f"{one_verify:.0f} ms here")
    server = server_url()
    database_url = await create_database(server, "bench_logins")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = logs_dir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = pytake_env(database_url, ROOT / ".data" / "bench" / "data",
                     PASSWORD_HASH_TIME_COST=str(hashing["time_cost"]),
                     PASSWORD_HASH_MEMORY_KIB=str(hashing["memory_kib"]))
    try:
        pytake = spawn("pytake-api", uvicorn_args("entrypoints.http.app:create_app", port), env, logs)
        try:
            await wait_http(pytake, f"{base_url}/health")
            progress(f"registering {options.login_clients + 1} accounts")
            await register_account(base_url, READER, PASSWORD, "Bench Reader")
            for n in range(options.login_clients):
                await register_account(base_url, login_email(n), PASSWORD, f"Bench Login {n}")
            token = await login_token(base_url, READER, PASSWORD)
            progress(f"alone: {options.concurrency} clients on GET /auth/me for {options.duration:.0f} s")
            alone = await asyncio.to_thread(run_httpload, load_config(base_url, token, options, storm=False),
                                            logs / "loadgen-alone.log")
            report("alone", alone)
            progress(f"storm: the same, with {options.login_clients} clients logging in continuously")
            storm = await asyncio.to_thread(run_httpload, load_config(base_url, token, options, storm=True),
                                            logs / "loadgen-storm.log")
            report("storm", storm)
            if not pytake.alive():
                raise RuntimeError(f"pytake-api exited:\n{pytake.tail()}")
        finally:
            pytake.stop()
    finally:
        await drop_database(server, database_url)

    a, b, logins = storm["groups"]["reads"], alone["groups"]["reads"], storm["groups"]["logins"]
    h, h0 = storm["groups"]["health"], alone["groups"]["health"]
    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"concurrency": options.concurrency, "login_clients": options.login_clients,
                     "duration_s": options.duration, "warmup_s": options.warmup, "hashing": hashing,
                     "uvicorn": UVICORN_FLAGS},
        "verify_ms": one_verify, "alone": alone, "storm": storm,
    }
    print_table(f"login storm: {options.concurrency} clients on GET /auth/me, alone (baseline) and while "
                f"{options.login_clients} clients log in, {options.duration:.0f} s", [
        ("reads p50", a["p50_ms"], b["p50_ms"], "ms"),
        ("reads p99", a["p99_ms"], b["p99_ms"], "ms"),
        ("reads/s", a["ok_per_s"], b["ok_per_s"], "1/s"),
        ("read errors", float(a["errors"]), float(b["errors"]), "count"),
        ("GET /health p50 (1 client)", h["p50_ms"], h0["p50_ms"], "ms"),
        ("GET /health p99 (1 client)", h["p99_ms"], h0["p99_ms"], "ms"),
    ])
    print(f"logins: {logins['ok_per_s']:.1f}/s (p50 {logins['p50_ms']:.0f} ms, p99 {logins['p99_ms']:.0f} ms, "
          f"{logins['errors']} errors {logins['statuses']}); one argon2id verify alone: {one_verify:.0f} ms\n")
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


def report(name: str, result: dict[str, Any]) -> None:
    for group, figures in result["groups"].items():
        progress(f"{name} {group}: {figures['ok_per_s']:.1f}/s, p50 {figures['p50_ms']:.1f} ms, "
                 f"p99 {figures['p99_ms']:.1f} ms, statuses {figures['statuses']}")
    progress(f"{name}: load generator CPU {result['loadgen_cpu']:.0%}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=16, help="clients reading GET /auth/me (default 16)")
    parser.add_argument("--login-clients", type=int, default=20, help="clients logging in during the storm (20)")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 15)),
                        help="measured seconds of each phase (default 15, env BENCH_DURATION)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds of the same load first (2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 s phases, 1 s warm-up, 4 login clients")


QUICK = {"duration": 3.0, "warmup": 1.0, "login_clients": 4}  # --quick: a smoke run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main("login_storm", __doc__ or "", add_arguments, QUICK, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
