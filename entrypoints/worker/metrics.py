"""The worker's Prometheus metrics: jobs by entrypoint and outcome, job duration, and WhatsApp sends by outcome.

The API's ``/metrics`` reads queue depth and webhook lag from the database (any API replica can answer);
what only the worker process knows is counted here and served on its own port when ``WORKER_METRICS_PORT`` is
set (unset or ``0``, the default: no server), the usual one-scrape-target-per-process Prometheus layout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import structlog
from prometheus_client import Counter, Histogram, start_http_server

log = structlog.get_logger("pytake.worker")

SENDS = Counter("pytake_sends_total", "WhatsApp sends by outcome (sent, failed, unconfirmed, skipped, retry)",
                ["outcome"])
JOBS = Counter("pytake_jobs_total", "Jobs handled by entrypoint and outcome (done, retry, acknowledged, dead_letter)",
               ["entrypoint", "outcome"])
JOB_SECONDS = Histogram("pytake_job_duration_seconds", "Job handling time by entrypoint", ["entrypoint"],
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))

WEBHOOK_EVENTS = Counter("pytake_webhook_events_total",
                         "Webhook events applied by outcome (inbound, statuses, duplicates, failed, unroutable...)",
                         ["outcome"])
INBOX_BATCHES = Counter("pytake_inbox_batches_total", "Batches of stored webhooks applied")

SEND_OUTCOMES = ("sent", "failed", "unconfirmed", "skipped", "retry")
JOB_OUTCOMES = ("done", "retry", "acknowledged", "dead_letter")

for _outcome in SEND_OUTCOMES:  # every series exists from the start, so rate() works from the first scrape
    SENDS.labels(_outcome)


def count_send(outcome: str) -> None:
    """The sender's observer in the worker process."""
    SENDS.labels(outcome).inc()


def count_webhook_events(outcomes: Mapping[str, int]) -> None:
    """The inbox's observer in the worker process: one batch's events by outcome."""
    INBOX_BATCHES.inc()
    for outcome, n in outcomes.items():
        WEBHOOK_EVENTS.labels(outcome).inc(n)


def serve(host: str, port: int) -> Callable[[], None]:
    """Serve ``/metrics`` on ``host:port`` in a thread; returns the function that stops it."""
    if port <= 0:
        return lambda: None
    server, thread = start_http_server(port, addr=host)
    log.info("worker.metrics_serving", host=host, port=server.server_address[1])

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)

    return stop
