"""Build the PgQueuer consumer with every handler behind the error-classifying executor."""

from __future__ import annotations

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.executors import EntrypointExecutorParameters

from entrypoints.container import Container
from entrypoints.worker.errors import ClassifyingExecutor
from entrypoints.worker.handlers import build_dead_letter_hooks, build_handlers


def build_queue(container: Container, connection: asyncpg.Connection) -> PgQueuer:
    queue = PgQueuer(AsyncpgDriver(connection))
    dead_letter_hooks = build_dead_letter_hooks(container)
    for name, handler in build_handlers(container).items():
        queue.qm.register_executor(name, ClassifyingExecutor(EntrypointExecutorParameters(
            func=handler, concurrency_limit=0, accepts_context=False, on_failure="hold"),
            on_dead_letter=dead_letter_hooks.get(name)))
    return queue
