"""The worker's error classification: retry, dead-letter or acknowledge, and the webhook exception to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import anyio
import pytest
from pgqueuer import models
from pgqueuer.errors import RetryRequested
from pgqueuer.executors import EntrypointExecutorParameters

from domain.errors import Conflict, Unavailable
from entrypoints.worker.errors import ClassifyingExecutor

pytestmark = pytest.mark.unit


def job(entrypoint: str = "process_webhook", attempts: int = 0) -> models.Job:
    now = datetime.now(UTC)
    return models.Job(id=1, priority=0, created=now, updated=now, heartbeat=now, execute_after=now, status="picked",
                      entrypoint=entrypoint, payload=json.dumps({"event_id": "e"}).encode(), attempts=attempts,
                      queue_manager_id=None, headers=None)


def executor(error: Exception, dead: list[BaseException], *, acknowledge_errors: bool) -> ClassifyingExecutor:
    async def handler(_: models.Job) -> None:
        raise error

    async def on_dead_letter(_: models.Job, failure: BaseException) -> None:
        dead.append(failure)

    return ClassifyingExecutor(EntrypointExecutorParameters(func=handler, concurrency_limit=0, on_failure="hold"),
                               on_dead_letter=on_dead_letter, acknowledge_errors=acknowledge_errors)


async def test_a_conflict_is_acknowledged_by_default_but_dead_lettered_where_errors_must_not_be_dropped() -> None:
    context = models.Context(cancellation=anyio.CancelScope())
    dead: list[BaseException] = []
    await executor(Conflict("stale"), dead, acknowledge_errors=True).execute(job(), context)  # acknowledged
    assert dead == []
    stale = Conflict("stale")
    with pytest.raises(Conflict):
        await executor(stale, dead, acknowledge_errors=False).execute(job(), context)
    assert dead == [stale]  # the webhook's hook marks it dead for operators


async def test_an_unavailable_dependency_is_retried_until_the_attempts_run_out() -> None:
    context = models.Context(cancellation=anyio.CancelScope())
    dead: list[BaseException] = []
    with pytest.raises(RetryRequested):
        await executor(Unavailable(), dead, acknowledge_errors=False).execute(job(attempts=0), context)
    with pytest.raises(Unavailable):
        await executor(Unavailable(), dead, acknowledge_errors=False).execute(job(attempts=7), context)
    assert len(dead) == 1
