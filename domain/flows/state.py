"""The state of one flow execution, persisted by the application as JSON between events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import InvalidValue
from domain.flows.values import json_safe

STATE_FORMAT_VERSION = 1
MAX_PATH = 1000


class ExecutionStatus(StrEnum):
    RUNNING = "running"  # created, not started yet (before the Started event)
    WAITING = "waiting"  # parked on a node until a reply, a timer or an HTTP result
    COMPLETED = "completed"
    FAILED = "failed"
    HANDED_OFF = "handed_off"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.HANDED_OFF, ExecutionStatus.EXPIRED}
)


class WaitingFor(StrEnum):
    REPLY = "reply"
    TIMER = "timer"
    HTTP = "http"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactInfo:
    """What a flow may read about its contact, as ``{{contact.name}}`` and friends."""

    whatsapp_id: str
    name: str | None = None
    email: str | None = None
    attributes: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "whatsapp_id": self.whatsapp_id,
            "name": self.name,
            "email": self.email,
            "attributes": json_safe(self.attributes),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ContactInfo:
        attributes = raw.get("attributes") or {}
        return cls(
            whatsapp_id=str(raw["whatsapp_id"]),
            name=_opt_str(raw.get("name")),
            email=_opt_str(raw.get("email")),
            attributes=json_safe(attributes) if isinstance(attributes, Mapping) else {},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionState:
    """Immutable; the engine returns a new one per event. Fresh executions use ``ExecutionState()``.

    ``path`` keeps the most recent ``MAX_PATH`` visited node ids (a node re-entered appears again);
    ``steps_total`` counts every node execution. ``retries`` belongs to the node being waited on.
    ``goto_depth`` counts goto_flow hops made without waiting for anything (capped by the engine).
    """

    status: ExecutionStatus = ExecutionStatus.RUNNING
    current_node_id: str | None = None
    waiting_for: WaitingFor | None = None
    pending_timer_id: str | None = None
    pending_call_id: str | None = None
    retries: int = 0
    variables: Mapping[str, object] = field(default_factory=dict)
    contact: ContactInfo | None = None
    path: tuple[str, ...] = ()
    steps_total: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    fail_reason: str | None = None
    goto_depth: int = 0

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (str/int/float/bool/None/list/dict only)."""
        return {
            "v": STATE_FORMAT_VERSION,
            "status": self.status.value,
            "current_node_id": self.current_node_id,
            "waiting_for": self.waiting_for.value if self.waiting_for else None,
            "pending_timer_id": self.pending_timer_id,
            "pending_call_id": self.pending_call_id,
            "retries": self.retries,
            "variables": json_safe(self.variables),
            "contact": self.contact.to_dict() if self.contact else None,
            "path": list(self.path),
            "steps_total": self.steps_total,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "fail_reason": self.fail_reason,
            "goto_depth": self.goto_depth,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ExecutionState:
        """Inverse of ``to_dict``; raises ``InvalidValue`` on a malformed document."""
        try:
            contact, variables = raw.get("contact"), raw.get("variables") or {}
            waiting = raw.get("waiting_for")
            return cls(
                status=ExecutionStatus(raw["status"]),
                current_node_id=_opt_str(raw.get("current_node_id")),
                waiting_for=WaitingFor(waiting) if waiting else None,
                pending_timer_id=_opt_str(raw.get("pending_timer_id")),
                pending_call_id=_opt_str(raw.get("pending_call_id")),
                retries=int(raw.get("retries", 0)),
                variables=dict(json_safe(variables)) if isinstance(variables, Mapping) else {},
                contact=ContactInfo.from_dict(contact) if isinstance(contact, Mapping) else None,
                path=tuple(str(p) for p in raw.get("path") or ()),
                steps_total=int(raw.get("steps_total", 0)),
                started_at=_opt_time(raw.get("started_at")),
                finished_at=_opt_time(raw.get("finished_at")),
                fail_reason=_opt_str(raw.get("fail_reason")),
                goto_depth=int(raw.get("goto_depth", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidValue(f"Malformed execution state: {exc}") from exc


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_time(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
