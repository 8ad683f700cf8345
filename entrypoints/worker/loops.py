"""The worker's two queues beside PgQueuer's jobs: the inbox (stored webhooks) and the outbox (queued messages).

Both wake at once on PostgreSQL NOTIFY (``pytake_inbox``, ``pytake_outbox``) and also look on their own every
``WORKER_POLL_SECONDS``, so a lost notification (a dropped listener connection) delays work by a second at
most. A database outage makes a round fail: it is tried again with a short backoff (at most 2 s), so work
resumes within seconds of the database coming back. On shutdown a round in progress finishes (a claimed
send is made and recorded) and no new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from uuid import UUID

import asyncpg
import structlog

from application.use_cases.whatsapp.process_inbox import ProcessInbox
from application.use_cases.whatsapp.send_queued_messages import SendQueuedMessages
from entrypoints.container import Container
from entrypoints.runtime import provide

log = structlog.get_logger("pytake.worker")

INBOX_CHANNEL, OUTBOX_CHANNEL = "pytake_inbox", "pytake_outbox"
MAX_BACKOFF_SECONDS = 2.0
BLOCKED_RECHECK_SECONDS = 0.2
ROUNDS_IN_FLIGHT = 3
"""Rounds one number runs at once: while one round's calls wait for Meta, the next one claims and calls (the
budget and one-message-per-recipient are enforced by the claim in the database, whoever claims)."""


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Wakeups:
    """A LISTEN connection of its own, reconnected when it drops; tells the loops there is work."""

    def __init__(self, dsn: str, *, inbox: asyncio.Event, outbox: Callable[[UUID, UUID], None]) -> None:
        self._dsn, self._inbox, self._outbox = dsn, inbox, outbox

    def _on_notify(self, _connection: object, _pid: int, channel: str, payload: str) -> None:
        if channel == INBOX_CHANNEL:
            self._inbox.set()
            return
        organization_id, _, number_id = payload.partition(":")
        with contextlib.suppress(ValueError):
            self._outbox(UUID(organization_id), UUID(number_id))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await _pause(stop, 0.5)
                continue
            try:
                await connection.add_listener(INBOX_CHANNEL, self._on_notify)
                await connection.add_listener(OUTBOX_CHANNEL, self._on_notify)
                self._inbox.set()  # whatever arrived while nobody listened (the outbox scan finds the sends)
                while not stop.is_set() and not connection.is_closed():
                    await _pause(stop, 0.5)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()


async def run_inbox(container: Container, stop: asyncio.Event, wake: asyncio.Event, poll_seconds: float) -> None:
    """Apply stored webhooks batch after batch; wait for a NOTIFY (or the poll) when none is pending."""
    process: ProcessInbox = await provide(container.process_inbox)
    failures = 0
    while not stop.is_set():
        wake.clear()
        try:
            batch = await process.execute()
        except Exception as error:  # noqa: BLE001 - the database went away, or a bug: log, back off, go on
            failures += 1
            log.warning("inbox.round_failed", error_type=type(error).__name__, failures=failures,
                        exc_info=failures == 1)
            await _pause(stop, min(MAX_BACKOFF_SECONDS, 0.25 * 2 ** min(failures, 4)))
            continue
        failures = 0
        if batch.claimed == 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), poll_seconds)


class OutboxSenders:
    """One sending task per number with due messages (at most ``concurrency`` at once); each drains its
    number round after round and ends when nothing is due."""

    def __init__(self, send: SendQueuedMessages, stop: asyncio.Event, concurrency: int) -> None:
        self._send, self._stop = send, stop
        self._slots = asyncio.Semaphore(max(concurrency, 1))
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._poked: set[UUID] = set()

    def poke(self, organization_id: UUID, number_id: UUID) -> None:
        """There may be messages to send from this number."""
        if self._stop.is_set():
            return
        self._poked.add(number_id)
        task = self._tasks.get(number_id)
        if task is None or task.done():
            self._tasks[number_id] = asyncio.create_task(self._drain(organization_id, number_id))

    async def _drain(self, organization_id: UUID, number_id: UUID) -> None:
        async with self._slots:
            await asyncio.gather(*(self._rounds(organization_id, number_id) for _ in range(ROUNDS_IN_FLIGHT)))

    async def _rounds(self, organization_id: UUID, number_id: UUID) -> None:
        failures = 0
        while not self._stop.is_set():
            self._poked.discard(number_id)
            try:
                done = await self._send.execute(organization_id, number_id)
            except Exception as error:  # noqa: BLE001 - log, back off, go on
                failures += 1
                log.warning("outbox.round_failed", number_id=str(number_id), error_type=type(error).__name__,
                            failures=failures, exc_info=failures == 1)
                await _pause(self._stop, min(MAX_BACKOFF_SECONDS, 0.25 * 2 ** min(failures, 4)))
                continue
            failures = 0
            if done.wait_seconds > 0:
                await _pause(self._stop, done.wait_seconds)
            elif done.claimed == 0 and done.more_due:
                await _pause(self._stop, BLOCKED_RECHECK_SECONDS)
            elif done.claimed == 0 and number_id not in self._poked:
                return

    async def finish(self, timeout: float) -> None:
        """Wait for rounds in progress (their calls are recorded) once ``stop`` is set."""
        running = [t for t in self._tasks.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=timeout)


async def run_outbox(container: Container, senders: OutboxSenders, stop: asyncio.Event,
                     poll_seconds: float) -> None:
    """Every ``poll_seconds``: numbers with due messages (a retry whose backoff ended, a missed NOTIFY)."""
    uow_factory, clock = await provide(container.uow), await provide(container.clock)
    while not stop.is_set():
        try:
            async with uow_factory() as uow:
                due = await uow.outbox.due_numbers(clock.now(), 1000)
            for organization_id, number_id in due:
                senders.poke(organization_id, number_id)
        except Exception as error:  # noqa: BLE001 - the database went away: the next look finds the work
            log.warning("outbox.scan_failed", error_type=type(error).__name__)
        await _pause(stop, poll_seconds)
