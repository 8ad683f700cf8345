"""Build the PgQueuer consumer with every handler behind the error-classifying executor."""

from __future__ import annotations

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Schedule

from application.jobs import EXPIRE_FLOW_EXECUTIONS, PURGE_EVENTS, RECONCILE_SENDS, SYNC_ALL_TEMPLATES
from entrypoints.container import Container
from entrypoints.runtime import provide
from entrypoints.worker.errors import ClassifyingExecutor
from entrypoints.worker.handlers import build_dead_letter_hooks, build_handlers


def build_queue(container: Container, connection: asyncpg.Connection) -> PgQueuer:
    queue = PgQueuer(AsyncpgDriver(connection))
    hooks = build_dead_letter_hooks(container)
    for name, handler in build_handlers(container).items():
        queue.qm.register_executor(name, ClassifyingExecutor(EntrypointExecutorParameters(
            func=handler, concurrency_limit=0, accepts_context=False, on_failure="hold"),
            on_dead_letter=hooks.get(name), max_attempts=container.settings().worker_job_max_attempts))
    schedule_flow_expiry(queue, container)
    schedule_send_reconciliation(queue, container)
    schedule_template_sync(queue, container)
    schedule_event_purge(queue, container)
    return queue


def schedule_flow_expiry(queue: PgQueuer, container: Container) -> None:
    """Every minute, one worker replica (PgQueuer's scheduler coordinates them) expires overdue executions."""

    @queue.schedule(EXPIRE_FLOW_EXECUTIONS, "* * * * *")
    async def _expire(_: Schedule) -> None:
        await (await provide(container.expire_flow_executions)).execute()


def schedule_send_reconciliation(queue: PgQueuer, container: Container) -> None:
    """Every minute: sends whose outcome never became known (no answer, no status webhook) are failed."""

    @queue.schedule(RECONCILE_SENDS, "* * * * *")
    async def _reconcile(_: Schedule) -> None:
        await (await provide(container.reconcile_sends)).execute()


def template_sync_cron(hours: int) -> str | None:
    """At minute 17 of every ``hours``-th hour (None: never)."""
    if hours <= 0:
        return None
    return "17 * * * *" if hours == 1 else f"17 */{hours} * * *"


def schedule_template_sync(queue: PgQueuer, container: Container) -> None:
    """Every TEMPLATE_SYNC_HOURS: one sync job per organization and WABA of every active number (Meta changes
    templates without telling us when a webhook is missed)."""
    cron = template_sync_cron(container.settings().template_sync_hours)
    if cron is None:
        return

    @queue.schedule(SYNC_ALL_TEMPLATES, cron)
    async def _sync(_: Schedule) -> None:
        await (await provide(container.enqueue_template_syncs)).execute()


def schedule_event_purge(queue: PgQueuer, container: Container) -> None:
    """Every five minutes: live events older than 24 hours and expired stream tickets are deleted."""

    @queue.schedule(PURGE_EVENTS, "*/5 * * * *")
    async def _purge(_: Schedule) -> None:
        await (await provide(container.purge_events)).execute()
