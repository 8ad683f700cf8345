"""Build the PgQueuer consumer with every handler behind the error-classifying executor."""

from __future__ import annotations

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.executors import EntrypointExecutorParameters
from pgqueuer.models import Schedule

from application.use_cases.flows.jobs import EXPIRE_FLOW_EXECUTIONS_JOB
from application.use_cases.whatsapp.jobs import PROCESS_WEBHOOK_JOB, REQUEUE_STALLED_WEBHOOKS_JOB
from entrypoints.container import Container
from entrypoints.runtime import provide
from entrypoints.worker.errors import ClassifyingExecutor
from entrypoints.worker.handlers import build_dead_letter_hooks, build_handlers


def build_queue(container: Container, connection: asyncpg.Connection) -> PgQueuer:
    queue = PgQueuer(AsyncpgDriver(connection))
    dead_letter_hooks = build_dead_letter_hooks(container)
    for name, handler in build_handlers(container).items():
        queue.qm.register_executor(name, ClassifyingExecutor(EntrypointExecutorParameters(
            func=handler, concurrency_limit=0, accepts_context=False, on_failure="hold"),
            on_dead_letter=dead_letter_hooks.get(name),
            # a webhook that cannot be applied is never dropped quietly: operators see it as a dead letter
            acknowledge_errors=name != PROCESS_WEBHOOK_JOB))
    schedule_flow_expiry(queue, container)
    schedule_webhook_requeue(queue, container)
    return queue


def schedule_flow_expiry(queue: PgQueuer, container: Container) -> None:
    """Every minute, one worker replica (PgQueuer's scheduler coordinates them) expires overdue executions."""

    @queue.schedule(EXPIRE_FLOW_EXECUTIONS_JOB, "* * * * *")
    async def _expire(_: Schedule) -> None:
        await (await provide(container.expire_flow_executions)).execute()


def schedule_webhook_requeue(queue: PgQueuer, container: Container) -> None:
    """Every minute: stored webhooks still pending long after they arrived get their processing job again."""

    @queue.schedule(REQUEUE_STALLED_WEBHOOKS_JOB, "* * * * *")
    async def _requeue(_: Schedule) -> None:
        await (await provide(container.requeue_stalled_webhooks)).execute()
