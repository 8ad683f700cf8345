"""The worker process serves its own Prometheus metrics: sends and webhook events by outcome."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from entrypoints.config import Settings
from tests.e2e.fault_support import free_port
from tests.e2e.whatsapp_support import (
    WorkerProcess,
    deliver,
    org_with_number,
    random_wa_id,
    send_template,
    wait_status,
    wait_until,
)
from tests.fake_graph import builders
from tests.fake_graph.server import FakeGraphServer

pytestmark = pytest.mark.e2e


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in the Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if not labels and (plain := re.fullmatch(rf"{re.escape(name)} (\S+)", line)):
            return float(plain.group(1))
        match = re.fullmatch(rf"{re.escape(name)}\{{([^}}]*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


async def test_the_worker_counts_sends_by_outcome_on_its_metrics_port(
        client: httpx.AsyncClient, test_settings: Settings, database_url: str, fake_graph: FakeGraphServer,
        tmp_path: Path) -> None:
    org = await org_with_number(client, fake_graph)
    refused = random_wa_id()
    fake_graph.fail_for(refused, 131026)  # undeliverable: a permanent failure
    port = free_port()
    worker = WorkerProcess(test_settings, database_url, tmp_path / "worker.log", WORKER_METRICS_PORT=str(port),
                           WORKER_POLL_SECONDS="0.3").start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        async def scrape() -> str | None:
            assert worker.alive(), worker.tail()
            try:
                return (await http.get(url)).text
            except httpx.HTTPError:
                return None

        async with httpx.AsyncClient(timeout=5) as http:
            before = await wait_until(scrape, timeout=30, what="the worker's metrics endpoint")
            assert sample(before, "pytake_sends_total", outcome="sent") == 0
            await deliver(client, builders.inbound_text(org.phone_number_id, random_wa_id(), "hello"))
            sent = [await send_template(client, org, random_wa_id()) for _ in range(2)]
            failed = await send_template(client, org, refused)
            for message_id in sent:
                await wait_status(client, org, message_id, "sent", timeout=30)
            await wait_status(client, org, failed, "failed", timeout=30)

            async def counted() -> str | None:  # the inbox has its own loop: a backlog of other suites' webhooks
                text = await scrape()             # in the session database can keep it busy after the sends are done
                return text if text and sample(text, "pytake_sends_total", outcome="failed") >= 1 \
                    and sample(text, "pytake_webhook_events_total", outcome="inbound") >= 1 else None

            text = await wait_until(counted, timeout=30, what="the failed send and the inbound webhook to be counted")
        # at least ours: the session database may still hold other suites' delayed jobs, which this worker runs too
        assert sample(text, "pytake_sends_total", outcome="sent") >= 2
        assert sample(text, "pytake_sends_total", outcome="failed") >= 1
        assert sample(text, "pytake_webhook_events_total", outcome="inbound") >= 1
        assert sample(text, "pytake_inbox_batches_total") >= 1
    finally:
        fake_graph.fail_for(refused, None)
        worker.stop()


async def test_a_worker_serves_no_metrics_unless_a_port_is_configured(test_settings: Settings, database_url: str,
                                                                      tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    worker = WorkerProcess(test_settings, database_url, log).start()  # WORKER_METRICS_PORT unset
    try:
        async def started() -> bool:
            assert worker.alive(), worker.tail()
            return "worker.started" in worker.tail(100_000)

        await wait_until(started, timeout=30, what="the worker to start")
    finally:
        worker.stop()
    assert "worker.metrics_serving" not in log.read_text() and "worker.metrics_unavailable" not in log.read_text()
