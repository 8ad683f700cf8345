"""Live events: many open SSE streams while events flow. Delivery latency from commit to client, and memory per
stream.

1. PostgreSQL (TEST_DATABASE_URL / DATABASE_URL, else the embedded one) and a fresh database with migrations.
2. PyTake's API under uvicorn in its own process (``bench.common.UVICORN_FLAGS``); O organizations registered
   through ``POST /auth/register``.
3. S streams (``GET /api/v1/events`` with the bearer token), spread evenly over the organizations (S/O listeners
   each, like a tenant's agents), opened from this process on plain asyncio sockets (a light client: the server
   is what is measured). The API process's RSS is read before and after they open: memory per stream is the
   delta over S.
4. For D seconds, R events per second are committed through the real producer path (``uow.events.append`` and
   ``commit()`` of the unit of work), to organizations in turn, in one transaction every 20 ms (the webhook
   pipeline commits batches too: one INSERT, one NOTIFY per organization). The producer notes when each
   commit is acknowledged, each client when the event arrives: the difference is the delivery latency from
   commit to client (the NOTIFY, the hub's read and the fan-out; a delivery can even beat the acknowledgement
   to the producer, a negative figure). Reported: p50, p99, max, deliveries per second, and deliveries
   against the expected count (every event to every stream of its organization).

``python -m bench events_stream [--streams S] [--orgs O] [--rate R] [--duration D] [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from bench.common import (
    ROOT,
    UVICORN_FLAGS,
    cli_main,
    create_database,
    drop_database,
    free_port,
    logs_dir,
    progress,
    pytake_env,
    register_account,
    save_result,
    server_url,
    spawn,
    uvicorn_args,
    wait_http,
)

NAME = "events_stream"
TICK = 0.02
IN_FLIGHT = 4
PASSWORD = "bench-events-password"


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Listener:
    """One stream on a raw socket: reads frames, records the latency of each event."""

    def __init__(self, port: int, token: str, arrivals: list[tuple[str, float]]) -> None:
        self.port, self.token, self.arrivals = port, token, arrivals
        self.ready = asyncio.Event()
        self.received = 0

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {self.token}\r\n"
                     "Accept: text/event-stream\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream refused: {status!r}")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b": connected"):
                    self.ready.set()
                elif line.startswith(b"data: ") and b'"bench_t"' in line:
                    self.arrivals.append((json.loads(line[6:])["message_id"], time.time()))
                    self.received += 1
        finally:
            writer.close()


async def produce(database_url: str, orgs: list[UUID], rate: float, duration: float,
                  committed: dict[str, float]) -> int:
    """``rate`` events per second for ``duration`` seconds, organizations in turn, committed every ``TICK``
    seconds in one transaction (as the webhook pipeline commits a batch: one INSERT, one NOTIFY per
    organization); at most ``IN_FLIGHT`` commits at once."""
    from adapters.postgres.database import create_engine, create_session_factory
    from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
    from domain.events import EventType

    engine = create_engine(database_url, app_role="pytake_app", pool_size=IN_FLIGHT)
    uow = SqlAlchemyUnitOfWorkFactory(create_session_factory(engine))
    slots = asyncio.Semaphore(IN_FLIGHT)
    sent = 0
    started = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()

    async def commit(batch: list[UUID]) -> None:
        async with slots, uow() as unit:
            ids = [str(uuid4()) for _ in batch]
            for org, message_id in zip(batch, ids, strict=True):
                unit.events.append(EventType.MESSAGE_STATUS, {"bench_t": time.time(), "message_id": message_id,
                                                              "status": "delivered"}, organization_id=org)
            await unit.commit()
            at = time.time()  # the commit is acknowledged
            for message_id in ids:
                committed[message_id] = at

    try:
        while (elapsed := time.monotonic() - started) < duration:
            due = min(int(elapsed * rate) + 1, int(duration * rate))
            if due > sent:
                task = asyncio.create_task(commit([orgs[n % len(orgs)] for n in range(sent, due)]))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent = due
            await asyncio.sleep(TICK)
        await asyncio.gather(*in_flight)
    finally:
        await engine.dispose()
    return sent


async def run(options: argparse.Namespace) -> dict[str, Any]:
    server = server_url()
    database_url = await create_database(server, "bench_events")
    progress(f"fresh database {database_url.rsplit('/', 1)[-1].split('?')[0]} migrated")
    logs = logs_dir()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = pytake_env(database_url, ROOT / ".data" / "bench" / "data", PASSWORD_HASH_TIME_COST="1",
                     PASSWORD_HASH_MEMORY_KIB="1024", EVENTS_QUEUE_SIZE="1000")
    arrivals: list[tuple[str, float]] = []
    committed: dict[str, float] = {}
    try:
        pytake = spawn("pytake-api", uvicorn_args("entrypoints.http.app:create_app", port), env, logs)
        try:
            await wait_http(pytake, f"{base_url}/health")
            progress(f"registering {options.orgs} organizations")
            accounts = [await register_account(base_url, f"bench-events-{n}@example.com", PASSWORD, f"Org {n}")
                        for n in range(options.orgs)]
            orgs = [UUID(a["user"]["organization_id"]) for a in accounts]
            await asyncio.sleep(1.0)
            before = rss_kib(pytake.process.pid)
            progress(f"opening {options.streams} streams (API RSS {before / 1024:.1f} MiB)")
            listeners = [Listener(port, accounts[n % options.orgs]["access_token"], arrivals)
                         for n in range(options.streams)]
            tasks = []
            for n, listener in enumerate(listeners):
                tasks.append(asyncio.create_task(listener.run()))
                if n % 50 == 49:
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(asyncio.gather(*(lst.ready.wait() for lst in listeners)), 120)
            await asyncio.sleep(2.0)
            after = rss_kib(pytake.process.pid)
            per_stream = (after - before) / options.streams
            progress(f"{options.streams} streams open: API RSS {after / 1024:.1f} MiB, "
                     f"{per_stream:.1f} KiB per stream")
            progress(f"producing {options.rate:.0f} events/s for {options.duration:.0f} s")
            produced = await produce(database_url, orgs, options.rate, options.duration, committed)
            await asyncio.sleep(3.0)  # the last deliveries
            during = rss_kib(pytake.process.pid)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not pytake.alive():
                raise RuntimeError(f"pytake-api exited:\n{pytake.tail()}")
        finally:
            pytake.stop()
    finally:
        await drop_database(server, database_url)

    expected = sum(options.streams // options.orgs + (1 if n < options.streams % options.orgs else 0)
                   for n in range(options.orgs)) * produced // options.orgs
    latencies = [(at - committed[m]) * 1000 for m, at in arrivals if m in committed]
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")

    result = {
        "benchmark": NAME, "when": datetime.now(UTC).isoformat(), "host": platform.node(), "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "settings": {"streams": options.streams, "orgs": options.orgs, "rate": options.rate,
                     "duration_s": options.duration, "uvicorn": UVICORN_FLAGS},
        "events_produced": produced, "deliveries": len(latencies), "deliveries_expected": expected,
        "deliveries_per_s": len(latencies) / options.duration,
        "latency_ms": {"p50": pct(0.50), "p99": pct(0.99), "max": ordered[-1] if ordered else None,
                       "mean": statistics.fmean(ordered) if ordered else None},
        "rss_kib": {"before_streams": before, "streams_open": after, "after_load": during},
        "kib_per_stream": per_stream,
    }
    print(f"\nevents_stream: {options.streams} streams over {options.orgs} organizations, {options.rate:.0f} events/s "
          f"for {options.duration:.0f} s")
    print(f"  events committed {produced}, deliveries {len(latencies)} (expected {expected}), "
          f"{result['deliveries_per_s']:.0f}/s")
    print(f"  commit -> client latency: p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {ordered[-1]:.1f} ms"
          if ordered else "  no deliveries")
    print(f"  API RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB with the streams open "
          f"({per_stream:.1f} KiB per stream), {during / 1024:.1f} MiB after the load\n")
    path = save_result(NAME, result)
    progress(f"saved {path.relative_to(ROOT)}")
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--streams", type=int, default=1000, help="open streams (default 1000)")
    parser.add_argument("--orgs", type=int, default=100, help="organizations the streams are spread over (100)")
    parser.add_argument("--rate", type=float, default=200.0, help="events committed per second (200)")
    parser.add_argument("--duration", type=float, default=float(os.environ.get("BENCH_DURATION", 20)),
                        help="seconds of load (default 20, env BENCH_DURATION)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 streams, 10 organizations, 5 s")


QUICK = {"streams": 100, "orgs": 10, "duration": 5.0}  # --quick: a smoke run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    return cli_main(NAME, __doc__ or "", add_arguments, QUICK, run, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
