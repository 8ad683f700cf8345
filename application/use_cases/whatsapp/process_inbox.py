"""Worker: apply stored webhooks in batches. The inbox is the queue.

1. claim: lease a batch of pending deliveries in arrival order (never two batches about one sender at once, so
   one contact's messages are applied in order even with several workers);
2. parse them and route each event to its organization by the number's ``phone_number_id``;
3. apply each organization's events in ONE transaction (row-level security: the tenant is set for it);
4. mark the deliveries processed, with what each came to.

A batch that fails is split in halves until the event that fails alone is found: that event is recorded as
failed on its webhook and everything else is applied. A delivery none of whose events could be applied is
dead (kept for operators). The database being unavailable fails the whole batch: its leases run out and it
is claimed again. Everything applied is idempotent (wamids, forward-only statuses, one history event per
status), so a batch applied again after a crash changes nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog

from application.messaging.webhooks import EventRef, Outcomes, WebhookApplier
from application.ports.channel import StoredWebhook, WebhookDecoder, WebhookOutcome
from application.ports.common import Clock
from application.ports.uow import TransactionConflict, UnitOfWorkFactory
from domain.channel import WhatsAppNumber
from domain.errors import Unavailable
from domain.messaging import AccountEvent, IgnoredChange, NumberEvent

log = structlog.get_logger("pytake.webhook")

CONFLICT_RETRIES = 3

InboxObserver = Callable[[Mapping[str, int]], None]
"""Told what each batch's events came to (``inbound``, ``statuses``, ``duplicates``, ``failed``...)."""


@dataclass(frozen=True, slots=True)
class InboxBatch:
    claimed: int
    events: int
    failed: int


class ProcessInbox:
    def __init__(self, *, uow: UnitOfWorkFactory, decoder: WebhookDecoder, clock: Clock, applier: WebhookApplier,
                 batch_size: int = 200, lease: timedelta = timedelta(seconds=30),
                 observer: InboxObserver | None = None) -> None:
        self._uow, self._decoder, self._clock, self._applier = uow, decoder, clock, applier
        self._batch_size, self._lease = batch_size, lease
        self._observe: InboxObserver = observer or (lambda _counts: None)

    async def execute(self) -> InboxBatch:
        """One batch; ``claimed == 0`` when nothing was pending."""
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.webhook_events.claim(limit=self._batch_size, now=now, lease_until=now + self._lease)
            await uow.commit()
        if not claimed:
            return InboxBatch(0, 0, 0)
        keeper = asyncio.create_task(self._keep_leased([w.id for w in claimed]))
        try:
            return await self._process(claimed)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _process(self, claimed: Sequence[StoredWebhook]) -> InboxBatch:
        refs = [EventRef(w.id, w.seq, i, event) for w in claimed
                for i, event in enumerate(self._decoder.parse(w.body, w.received_at or self._clock.now()))]
        outcomes: Outcomes = {w.id: Counter() for w in claimed}
        errors: dict[UUID, str] = {}
        for ref in refs:
            if isinstance(ref.event, IgnoredChange):  # a field nobody applies: counted, the raw body stays kept
                outcomes[ref.webhook_id]["ignored"] += 1
                log.info("webhook.field_ignored", field=ref.event.field, webhook_id=str(ref.webhook_id))
        refs = [r for r in refs if not isinstance(r.event, IgnoredChange)]
        by_org, numbers = await self._route(refs, outcomes)
        for organization_id, org_refs in by_org.items():
            await self._apply_isolating(organization_id, numbers, org_refs, outcomes, errors)
        await self._apply_template_changes(claimed, outcomes, errors)
        await self._mark(claimed, outcomes, errors)
        totals: Counter[str] = sum(outcomes.values(), Counter())
        self._observe(totals)
        return InboxBatch(len(claimed), len(refs), totals["failed"])

    async def _route(self, refs: Sequence[EventRef], outcomes: Outcomes
                     ) -> tuple[dict[UUID, list[EventRef]], dict[str, WhatsAppNumber]]:
        """Each event's organization: by its number's ``phone_number_id``, or, for account-level events (which
        name only the WABA), every organization with a number of that WABA. Unknown ones count ``unroutable``."""
        pnids = sorted({e.phone_number_id for r in refs if isinstance(e := r.event, NumberEvent)})
        wabas = sorted({e.waba_id for r in refs if isinstance(e := r.event, AccountEvent)})
        async with self._uow() as uow:
            numbers = await uow.numbers.routable_by_phone_number_ids(pnids) if pnids else {}
            of_waba = await uow.numbers.routable_by_waba_ids(wabas) if wabas else {}
        by_org: dict[UUID, list[EventRef]] = defaultdict(list)
        for ref in refs:
            event = ref.event
            if isinstance(event, AccountEvent):
                owners = {n.organization_id for n in of_waba.get(event.waba_id, [])}
                for organization_id in sorted(owners):
                    by_org[organization_id].append(ref)
                if not owners:
                    outcomes[ref.webhook_id]["unroutable"] += 1
                continue
            number = numbers.get(event.phone_number_id) if isinstance(event, NumberEvent) else None
            if number is None:
                outcomes[ref.webhook_id]["unroutable"] += 1
            else:
                by_org[number.organization_id].append(ref)
        for pnid in sorted(set(pnids) - set(numbers)):
            log.warning("webhook.unknown_number", phone_number_id=pnid)
        for waba in sorted(set(wabas) - set(of_waba)):
            log.warning("webhook.unknown_waba", waba_id=waba)
        numbers.update({n.phone_number_id: n for found in of_waba.values() for n in found})
        return by_org, numbers

    async def _apply_isolating(self, organization_id: UUID, numbers: dict[str, WhatsAppNumber],
                               refs: Sequence[EventRef], outcomes: Outcomes, errors: dict[UUID, str]) -> None:
        """Apply ``refs`` in one transaction; when that fails, each half in its own, down to the event that
        fails alone, which is recorded as failed (the others are applied)."""
        try:
            applied = await self._apply(organization_id, numbers, refs)
        except Unavailable:
            raise  # the database: the batch is claimed again once its leases run out
        except Exception as error:  # noqa: BLE001 - a poison event: find it, apply the rest
            if len(refs) > 1:
                middle = len(refs) // 2
                await self._apply_isolating(organization_id, numbers, refs[:middle], outcomes, errors)
                await self._apply_isolating(organization_id, numbers, refs[middle:], outcomes, errors)
                return
            ref = refs[0]
            outcomes[ref.webhook_id]["failed"] += 1
            errors[ref.webhook_id] = f"event {ref.index}: {type(error).__name__}: {error}"[:1000]
            log.error("webhook.event_failed", webhook_id=str(ref.webhook_id), event_index=ref.index,
                      error_type=type(error).__name__, exc_info=error)
            return
        for webhook_id, counts in applied.items():
            outcomes[webhook_id].update(counts)

    async def _apply_template_changes(self, claimed: Sequence[StoredWebhook], outcomes: Outcomes,
                                      errors: dict[UUID, str]) -> None:
        """The template fields (status, quality, category): they name a WABA, not a number, and change every
        organization's stored copy of the template, in one system-scope transaction for the batch."""
        changes = [(w.id, change) for w in claimed for change in self._decoder.template_changes(w.body)]
        if not changes:
            return
        try:
            async with self._uow() as uow:
                await uow.templates.apply_changes_any_org([change for _, change in changes], self._clock.now())
                await uow.commit()
        except Unavailable:
            raise
        except Exception as error:  # noqa: BLE001 - recorded on the webhooks like any event that fails
            for webhook_id, _ in changes:
                outcomes[webhook_id]["failed"] += 1
                errors[webhook_id] = f"template change: {type(error).__name__}: {error}"[:1000]
            log.error("webhook.template_change_failed", error_type=type(error).__name__, exc_info=error)
            return
        for webhook_id, _ in changes:
            outcomes[webhook_id]["templates"] += 1

    async def _apply(self, organization_id: UUID, numbers: dict[str, WhatsAppNumber],
                     refs: Sequence[EventRef]) -> Outcomes:
        for attempt in range(1, CONFLICT_RETRIES + 1):
            try:
                async with self._uow(organization_id) as uow:
                    applied = await self._applier.apply(uow, numbers, refs, self._clock.now())
                    await uow.commit()
                return applied
            except TransactionConflict:  # a deadlock with another transaction: PostgreSQL chose us; again
                if attempt == CONFLICT_RETRIES:
                    raise
                await asyncio.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    async def _mark(self, claimed: Sequence[StoredWebhook], outcomes: Outcomes, errors: dict[UUID, str]) -> None:
        processed, dead = [], []
        for webhook in claimed:
            counts = outcomes[webhook.id]
            outcome = WebhookOutcome(webhook_id=webhook.id, summary=dict(counts), error=errors.get(webhook.id))
            if counts["failed"] and sum(counts.values()) == counts["failed"]:
                dead.append(outcome)
            else:
                processed.append(outcome)
        async with self._uow() as uow:
            await uow.webhook_events.mark_processed(processed, self._clock.now())
            for outcome in dead:
                await uow.webhook_events.mark_dead(outcome, self._clock.now())
            await uow.commit()
        for outcome in dead:
            log.error("webhook.dead", webhook_id=str(outcome.webhook_id), error=outcome.error)

    async def _keep_leased(self, webhook_ids: list[UUID]) -> None:
        """Extend the batch's leases while it is being applied (a slow batch is not claimed twice)."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            now = self._clock.now()
            with contextlib.suppress(Unavailable):
                async with self._uow() as uow:
                    await uow.webhook_events.extend_lease(webhook_ids, now + self._lease)
                    await uow.commit()
