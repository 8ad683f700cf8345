"""Flow automations: a flow run for a frozen list of contacts, dispatched at a controlled rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.errors import Conflict, NotFound, RuleViolation


class AutomationStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RecipientState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    REPLIED = "replied"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def advance(self, incoming: RecipientState) -> RecipientState:
        """Forward only; failed and skipped are terminal except that a reply always counts."""
        if self in (RecipientState.SKIPPED,):
            return self
        if self is RecipientState.FAILED:
            return incoming if incoming in (RecipientState.REPLIED, RecipientState.COMPLETED) else self
        return incoming if incoming.rank > self.rank else self


_RANK = {state: index for index, state in enumerate(RecipientState)}


class AutomationNotFound(NotFound):
    code = "automation_not_found"
    default_message = "Flow automation not found."


class AutomationStateConflict(Conflict):
    code = "automation_state_conflict"
    default_message = "The automation cannot do that in its current status."


class AutomationAlreadyStarted(AutomationStateConflict):
    code = "automation_already_started"
    default_message = "The automation was already started."


class TemplateRequired(RuleViolation):
    code = "template_required"
    default_message = ("Some contacts are outside the 24-hour window: config.template (an approved template) is "
                       "required to open the conversation.")


@dataclass(slots=True, kw_only=True)
class Automation:
    id: UUID
    organization_id: UUID
    flow_id: UUID
    number_id: UUID
    status: AutomationStatus
    config: dict[str, Any] = field(default_factory=dict)
    rate_per_second: float = 20.0
    schedule_at: datetime | None = None
    total_contacts: int = 0
    paused_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    dispatch_finished_at: datetime | None = None

    @property
    def phase(self) -> str:
        """Where a running automation is: ``dispatching`` (recipients still get their opening message queued),
        ``sending`` (all queued, some sends not final yet); otherwise the status itself."""
        if self.status is not AutomationStatus.RUNNING:
            return self.status.value
        return "sending" if self.dispatch_finished_at is not None else "dispatching"

    @property
    def template(self) -> dict[str, Any] | None:
        template = self.config.get("template")
        return template if isinstance(template, dict) else None

    def start(self, now: datetime) -> None:
        if self.status is not AutomationStatus.DRAFT:
            raise AutomationAlreadyStarted()
        scheduled = self.schedule_at is not None and self.schedule_at > now
        self.status = AutomationStatus.SCHEDULED if scheduled else AutomationStatus.RUNNING
        self.started_at = None if scheduled else now
        self.updated_at = now

    def begin_running(self, now: datetime) -> bool:
        """A scheduled automation whose time has come starts; True when it is (now) running."""
        if self.status is AutomationStatus.SCHEDULED:
            self.status, self.started_at, self.updated_at = AutomationStatus.RUNNING, now, now
        return self.status is AutomationStatus.RUNNING

    def pause(self, now: datetime, reason: str | None = None) -> None:
        if self.status not in (AutomationStatus.RUNNING, AutomationStatus.SCHEDULED, AutomationStatus.PAUSED):
            raise AutomationStateConflict(f"A {self.status.value} automation cannot be paused.")
        self.status, self.paused_reason, self.updated_at = AutomationStatus.PAUSED, reason, now

    def resume(self, now: datetime) -> None:
        if self.status is not AutomationStatus.PAUSED:
            raise AutomationStateConflict(f"A {self.status.value} automation cannot be resumed.")
        self.status, self.paused_reason, self.updated_at = AutomationStatus.RUNNING, None, now
        self.started_at = self.started_at or now
        self.dispatch_finished_at = None  # recipients put back while paused are dispatched again

    def cancel(self, now: datetime) -> None:
        if self.status in (AutomationStatus.COMPLETED, AutomationStatus.CANCELLED):
            raise AutomationStateConflict(f"A {self.status.value} automation cannot be cancelled.")
        self.status, self.finished_at, self.updated_at = AutomationStatus.CANCELLED, now, now

    def finish_dispatching(self, now: datetime) -> None:
        """Every recipient was given its opening message (or skipped): the automation is now ``sending`` until
        every send is final, when :meth:`complete` ends it."""
        if self.dispatch_finished_at is None:
            self.dispatch_finished_at, self.updated_at = now, now

    def complete(self, now: datetime) -> bool:
        """Completed: dispatching is over and no recipient's send is pending any more. True when it changed."""
        if self.status is AutomationStatus.RUNNING and self.dispatch_finished_at is not None:
            self.status, self.finished_at, self.updated_at = AutomationStatus.COMPLETED, now, now
            return True
        return False


@dataclass(slots=True, kw_only=True)
class Recipient:
    id: UUID
    automation_id: UUID
    organization_id: UUID
    contact_id: UUID
    whatsapp_id: str
    seq: int
    state: RecipientState = RecipientState.PENDING
    variables: dict[str, Any] = field(default_factory=dict)
    message_id: UUID | None = None
    execution_id: UUID | None = None
    dispatched_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    skip_reason: str | None = None
    updated_at: datetime
