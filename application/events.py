"""What each live event says, built in one place, and the throttle of ``automation.progress``.

Producers call these inside their unit of work; the events are written when it commits (one statement for all
of them) and exist only if the change they tell of does. Payloads are small: ids, a status, a type, a short
preview; the client fetches the rest. Nothing secret is ever put in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from application.jobs import PublishAutomationProgress, enqueue
from application.ports.automations import AutomationCounts
from application.ports.uow import UnitOfWork
from domain.automations import Automation
from domain.channel import Conversation, Message
from domain.events import EventType, preview
from domain.flows.records import FlowExecution
from domain.vault import Secret

PROGRESS_INTERVAL = timedelta(milliseconds=250)
"""At most one ``automation.progress`` per automation in each such window."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def message_received(uow: UnitOfWork, messages: Iterable[Message]) -> None:
    for m in messages:
        uow.events.append(EventType.MESSAGE_RECEIVED, {
            "message_id": str(m.id), "contact_id": str(m.contact_id), "number_id": str(m.number_id),
            "type": m.type, "preview": preview(m.content.get("text")), "occurred_at": m.occurred_at.isoformat()},
            organization_id=m.organization_id)


def message_status(uow: UnitOfWork, messages: Iterable[Message]) -> None:
    for m in messages:
        uow.events.append(EventType.MESSAGE_STATUS, {
            "message_id": str(m.id), "contact_id": str(m.contact_id), "number_id": str(m.number_id),
            "status": m.status, "error_code": m.error_code}, organization_id=m.organization_id)


def conversation_updated(uow: UnitOfWork, conversations: Iterable[Conversation], reason: str,
                         **extra: Any) -> None:
    """``reason``: what changed (``inbound``, ``handoff``, ``released``, or a state of the inbox); ``extra``:
    more small fields of the change (``state="open"``...)."""
    for c in conversations:
        uow.events.append(EventType.CONVERSATION_UPDATED, {
            "conversation_id": str(c.id), "contact_id": str(c.contact_id), "number_id": str(c.number_id),
            "reason": reason, "handed_off": c.handoff_at is not None,
            "last_message_at": c.last_message_at.isoformat() if c.last_message_at else None, **extra},
            organization_id=c.organization_id)


def flow_execution_finished(uow: UnitOfWork, execution: FlowExecution) -> None:
    uow.events.append(EventType.FLOW_EXECUTION_FINISHED, {
        "execution_id": str(execution.id), "flow_id": str(execution.flow_id),
        "contact_id": str(execution.contact_id), "status": execution.status.value,
        "fail_reason": execution.fail_reason,
        "automation_id": str(execution.automation_id) if execution.automation_id else None},
        organization_id=execution.organization_id)


def secret_rotated(uow: UnitOfWork, secret: Secret, kind: str) -> None:
    """Never the value: the secret's id, key name, new version and status."""
    uow.events.append(EventType.SECRET_ROTATED, {
        "secret_id": str(secret.id), "key": str(secret.key), "version": secret.current_version,
        "status": secret.status.value, "kind": kind}, organization_id=secret.organization_id)


def automation_progress(uow: UnitOfWork, automation: Automation, counts: AutomationCounts) -> None:
    uow.events.append(EventType.AUTOMATION_PROGRESS, {
        "automation_id": str(automation.id), "status": automation.status.value, "phase": automation.phase,
        "counts": {k: getattr(counts, k) for k in ("total", "pending", "sent", "delivered", "read", "replied",
                                                   "completed", "failed", "skipped", "dispatched", "accepted")}},
        organization_id=automation.organization_id)


async def progress_changed(uow: UnitOfWork, automations: Iterable[tuple[UUID, UUID]], now: datetime) -> None:
    """Automations ((automation id, organization id) pairs) whose recipients or status changed in this unit
    of work: each gets one ``automation.progress`` at the end of the current 250 ms window (a deferred job
    deduplicated per automation and window; the job reads the committed counts). Durable (the queue), cheap
    (one queued job per automation per window, whatever the number of changes) and never loses the last
    change of a burst (the job runs after its window closes)."""
    step = PROGRESS_INTERVAL // _MICROSECOND
    elapsed = (now - _EPOCH) // _MICROSECOND
    window = elapsed // step
    closes = timedelta(microseconds=(window + 1) * step - elapsed)
    for automation_id, organization_id in sorted(set(automations)):
        await enqueue(uow, PublishAutomationProgress(organization_id=organization_id, automation_id=automation_id),
                      dedupe_key=f"automation_progress:{automation_id}:{window}", delay=closes + PROGRESS_INTERVAL)
