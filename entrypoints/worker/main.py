"""The worker process: consumes the job queue until SIGINT/SIGTERM, finishing in-flight jobs first."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import structlog
from dependency_injector import providers
from pgqueuer import PgQueuer
from sqlalchemy.engine import make_url

from entrypoints.config import Settings, load_settings
from entrypoints.container import Container
from entrypoints.logging import configure_logging
from entrypoints.runtime import provide, resolve_database_url
from entrypoints.worker import metrics
from entrypoints.worker.loops import OutboxSenders, Wakeups, run_inbox, run_outbox
from entrypoints.worker.runner import build_queue

RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 2.0  # a campaign resumes within seconds of the database coming back
INBOX_LOOPS = 2
"""Inbox batches one worker process applies at once: one's database round trips overlap the other's parsing."""

log = structlog.get_logger("pytake.worker")


def plain_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def run_worker(settings: Settings, database_url: str, *, stop: asyncio.Event | None = None) -> None:
    container = Container(settings=settings, database_url=database_url)
    container.send_observer.override(providers.Object(metrics.count_send))
    container.inbox_observer.override(providers.Object(metrics.count_webhook_events))
    await container.init_resources()  # type: ignore[misc]
    try:
        await container.check_vault_seal()  # refuse to run when a stored row needs an unloaded master key
    except BaseException:
        await container.shutdown_resources()  # type: ignore[misc]
        raise
    stop = stop or asyncio.Event()
    stop_metrics = _serve_metrics(settings)
    log.info("worker.started", job_concurrency=job_concurrency(settings), sending_numbers=settings.worker_concurrency,
             inbox_loops=INBOX_LOOPS, inbox_batch=settings.worker_inbox_batch)
    dsn = plain_dsn(database_url)
    inbox_wake = asyncio.Event()
    senders = OutboxSenders(await provide(container.send_queued), stop, settings.worker_concurrency)
    loops = [asyncio.create_task(Wakeups(dsn, inbox=inbox_wake, outbox=senders.poke).run(stop)),
             asyncio.create_task(run_outbox(container, senders, stop, settings.worker_poll_seconds)),
             *(asyncio.create_task(run_inbox(container, stop, inbox_wake, settings.worker_poll_seconds))
               for _ in range(INBOX_LOOPS))]
    try:
        await _consume_until_stopped(container, settings, dsn, stop)
    finally:
        stop.set()
        await senders.finish(timeout=30)
        await asyncio.gather(*loops, return_exceptions=True)
        stop_metrics()
        await container.shutdown_resources()  # type: ignore[misc]
        log.info("worker.stopped")


def _serve_metrics(settings: Settings) -> Callable[[], None]:
    try:
        return metrics.serve(settings.worker_metrics_host, settings.worker_metrics_port)
    except OSError as error:  # a busy port must not stop message processing; operators see it in the log
        log.error("worker.metrics_unavailable", port=settings.worker_metrics_port, error=str(error))
        return lambda: None


async def _consume_until_stopped(container: Container, settings: Settings, dsn: str, stop: asyncio.Event) -> None:
    """Consume the queue; when the database goes away (restart, failover), reconnect with backoff and go on.
    Jobs that were running when the connection dropped are re-picked once their heartbeat is stale."""
    failures = 0
    previous: object | None = None
    while not stop.is_set():
        try:
            connection = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            failures += 1
            delay = _backoff(failures)
            log.warning("worker.database_unavailable", retry_in_seconds=delay, error_type=type(error).__name__)
            await _sleep_unless(stop, delay)
            continue
        if failures:
            log.info("worker.database_reconnected", after_attempts=failures)
        if previous is not None:  # what the broken consumer had picked is picked again now, not in 30 s
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                released = await container.release_jobs_of()(connection, previous)
                log.info("worker.jobs_released", jobs=released)
        queue = build_queue(container, connection)
        previous = queue.qm.queue_manager_id
        watcher = asyncio.create_task(_shutdown_on(stop, queue))
        consuming_since = asyncio.get_running_loop().time()
        try:
            await queue.run(batch_size=10, dequeue_timeout=timedelta(seconds=settings.worker_poll_seconds),
                            max_concurrent_tasks=job_concurrency(settings),
                            heartbeat_timeout=timedelta(seconds=settings.worker_heartbeat_seconds))
        except Exception as error:  # noqa: BLE001 - the queue's connection broke (a dropped socket can surface as
            # asyncpg's InternalClientError too); a new connection and a new consumer, never a dead worker
            if stop.is_set():
                break
            # a consumer that ran a while starts over from the first delay; one that keeps failing backs off
            ran_a_while = asyncio.get_running_loop().time() - consuming_since > 60
            failures = 1 if ran_a_while else failures + 1
            delay = _backoff(failures)
            log.warning("worker.queue_connection_lost", error_type=type(error).__name__, retry_in_seconds=delay,
                        exc_info=error)
            await _sleep_unless(stop, delay)
        finally:
            watcher.cancel()
            if not connection.is_closed():
                await connection.close()


MIN_JOB_CONCURRENCY = 20
"""A campaign's dispatcher holds one job slot for as long as it dispatches: fewer slots would starve flow timers."""


def job_concurrency(settings: Settings) -> int:
    """The jobs one worker runs at once: ``WORKER_CONCURRENCY``, at least 20 (logged at start-up)."""
    return max(settings.worker_concurrency, MIN_JOB_CONCURRENCY)


def _backoff(failures: int) -> float:
    return float(min(RECONNECT_MAX_SECONDS, RECONNECT_FIRST_SECONDS * 2.0 ** min(max(failures, 1) - 1, 6)))


async def _shutdown_on(stop: asyncio.Event, queue: PgQueuer) -> None:
    await stop.wait()
    log.info("worker.stopping")
    queue.shutdown.set()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def main() -> None:
    settings = load_settings()
    configure_logging(level=settings.log_level, json_output=settings.log_json)
    url = resolve_database_url(settings)

    async def _run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, url, stop=stop)

    try:
        import uvloop  # the same event loop as the API server (SERVER_FLAGS); comes with uvicorn[standard]
    except ImportError:  # pragma: no cover - platforms without uvloop
        asyncio.run(_run())
    else:
        uvloop.run(_run())


if __name__ == "__main__":
    main()
