"""How the worker treats an error: retry later, dead-letter (kept for operators) or acknowledge."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

import structlog
from pgqueuer import models
from pgqueuer.core.executors import EntrypointExecutor
from pgqueuer.errors import RetryRequested

from domain.errors import Conflict, DomainError, InvalidValue, NotFound, RuleViolation, Unavailable
from entrypoints.worker.metrics import JOB_SECONDS, JOBS

log = structlog.get_logger("pytake.worker")


class Outcome(StrEnum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    ACK = "ack"


def classify(error: BaseException) -> Outcome:
    """Transient problems are retried; broken jobs go to the dead-letter state; stale work is acknowledged."""
    retryable = getattr(error, "retryable", None)
    if retryable is True or isinstance(error, Unavailable):
        return Outcome.RETRY
    if retryable is False:
        return Outcome.DEAD_LETTER
    if isinstance(error, NotFound | Conflict):
        return Outcome.ACK
    if isinstance(error, DomainError | InvalidValue | RuleViolation | ValueError | KeyError | TypeError):
        return Outcome.DEAD_LETTER
    return Outcome.RETRY


@dataclasses.dataclass
class ClassifyingExecutor(EntrypointExecutor):
    """Retries with exponential backoff up to ``max_attempts``; then, or for poison jobs, dead-letters."""

    max_attempts: int = 8
    acknowledge_errors: bool = True  # False: a NotFound/Conflict is dead-lettered instead of acknowledged
    on_dead_letter: Callable[[models.Job, BaseException], Awaitable[None]] | None = None
    initial_delay: timedelta = dataclasses.field(default_factory=lambda: timedelta(seconds=1))
    max_delay: timedelta = dataclasses.field(default_factory=lambda: timedelta(minutes=5))

    async def execute(self, job: models.Job, context: models.Context) -> None:
        structlog.contextvars.clear_contextvars()
        request_id = (job.headers or {}).get("request_id")
        structlog.contextvars.bind_contextvars(job_id=job.id, entrypoint=job.entrypoint,
                                              **({"request_id": request_id} if request_id else {}))
        started = time.perf_counter()
        try:
            await super().execute(job, context)
            JOBS.labels(job.entrypoint, "done").inc()
        except RetryRequested:
            JOBS.labels(job.entrypoint, "retry").inc()
            raise
        except Exception as error:
            outcome = classify(error)
            if outcome is Outcome.ACK and not self.acknowledge_errors:
                outcome = Outcome.DEAD_LETTER
            JOBS.labels(job.entrypoint, _metric_outcome(outcome, job.attempts + 1 < self.max_attempts)).inc()
            fields = {"entrypoint": job.entrypoint, "job_id": job.id, "attempts": job.attempts,
                      "error_type": type(error).__name__, "error_code": getattr(error, "code", None)}
            if outcome is Outcome.ACK:
                log.info("job.acknowledged_after_error", **fields)
                return
            if outcome is Outcome.RETRY and job.attempts + 1 < self.max_attempts:
                backoff = getattr(error, "backoff_seconds", None)  # Graph errors: backoff by code and attempt
                hinted = backoff(job.attempts) if callable(backoff) else getattr(error, "retry_after_seconds", None)
                delay = timedelta(seconds=hinted) if hinted else min(
                    self.initial_delay * (2 ** job.attempts), self.max_delay)
                log.warning("job.retry", delay_seconds=delay.total_seconds(), exc_info=error, **fields)
                raise RetryRequested(delay=delay, reason=type(error).__name__) from error
            log.error("job.dead_lettered", exc_info=error, **fields)
            if self.on_dead_letter is not None:
                await self.on_dead_letter(job, error)
            raise
        finally:
            JOB_SECONDS.labels(job.entrypoint).observe(time.perf_counter() - started)


def _metric_outcome(outcome: Outcome, attempts_left: bool) -> str:
    if outcome is Outcome.ACK:
        return "acknowledged"
    return "retry" if outcome is Outcome.RETRY and attempts_left else "dead_letter"
