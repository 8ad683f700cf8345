"""The worker process: consumes the job queue until SIGINT/SIGTERM, finishing in-flight jobs first."""

from __future__ import annotations

import asyncio
import signal
from datetime import timedelta

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from entrypoints.config import Settings, load_settings
from entrypoints.container import Container
from entrypoints.logging import configure_logging
from entrypoints.runtime import resolve_database_url
from entrypoints.worker.runner import build_queue

log = structlog.get_logger("pytake.worker")


def plain_dsn(url: str) -> str:
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


async def run_worker(settings: Settings, database_url: str, *, stop: asyncio.Event | None = None) -> None:
    container = Container(settings=settings, database_url=database_url)
    await container.init_resources()  # type: ignore[misc]
    try:
        await container.check_vault_seal()  # refuse to run when a stored row needs an unloaded master key
    except BaseException:
        await container.shutdown_resources()  # type: ignore[misc]
        raise
    connection = await asyncpg.connect(plain_dsn(database_url))
    queue = build_queue(container, connection)
    stop = stop or asyncio.Event()

    async def _watch() -> None:
        await stop.wait()
        log.info("worker.stopping")
        queue.shutdown.set()

    watcher = asyncio.create_task(_watch())
    log.info("worker.started", concurrency=settings.worker_concurrency)
    try:
        await queue.run(batch_size=10, dequeue_timeout=timedelta(seconds=settings.worker_poll_seconds),
                        max_concurrent_tasks=max(settings.worker_concurrency, 20),
                        heartbeat_timeout=timedelta(seconds=settings.worker_heartbeat_seconds))
    finally:
        watcher.cancel()
        await connection.close()
        await container.shutdown_resources()  # type: ignore[misc]
        log.info("worker.stopped")


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

    asyncio.run(_run())


if __name__ == "__main__":
    main()
