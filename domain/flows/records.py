"""What is stored about flows: the editable flow, its published versions, its triggers and its executions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from domain.errors import Conflict, InvalidValue, NotFound
from domain.flows.graph import FlowGraph
from domain.flows.state import ExecutionState, ExecutionStatus

KEYWORDS_MAX, KEYWORD_MAX_LEN = 50, 100


class FlowStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class FlowNotFound(NotFound):
    code = "flow_not_found"
    default_message = "Flow not found."


class FlowInUse(Conflict):
    code = "flow_in_use"
    default_message = "The flow has running executions; archive it first, then delete it."


class ExecutionAlreadyRunning(Conflict):
    code = "flow_execution_already_running"
    default_message = "The contact already has a running flow execution on this number."


class FlowNotActive(Conflict):
    code = "flow_not_active"
    default_message = "The flow is not active (publish it first)."


class TriggerType(StrEnum):
    KEYWORD = "keyword"
    DEFAULT = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowTrigger:
    """``keyword``: starts on a message equal to a keyword, or whose first word is one (case-insensitive).
    ``default``: starts on any message of a contact with no running execution when no keyword matched."""

    type: TriggerType
    keywords: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: object) -> FlowTrigger | None:
        if raw is None:
            return None
        if not isinstance(raw, Mapping):
            raise InvalidValue("trigger must be an object {type, keywords?}.")
        try:
            kind = TriggerType(str(raw.get("type")))
        except ValueError:
            raise InvalidValue("trigger.type must be 'keyword' or 'default'.") from None
        if kind is TriggerType.DEFAULT:
            return cls(type=kind)
        words = raw.get("keywords")
        if not isinstance(words, list | tuple) or not words or len(words) > KEYWORDS_MAX:
            raise InvalidValue(f"trigger.keywords must list 1 to {KEYWORDS_MAX} keywords.")
        keywords: list[str] = []
        for word in words:
            text = " ".join(word.split()) if isinstance(word, str) else ""
            if not text or len(text) > KEYWORD_MAX_LEN:
                raise InvalidValue(f"Each keyword is 1 to {KEYWORD_MAX_LEN} characters of text.")
            if text.casefold() not in (k.casefold() for k in keywords):
                keywords.append(text)
        return cls(type=kind, keywords=tuple(keywords))

    def to_dict(self) -> dict[str, Any]:
        if self.type is TriggerType.DEFAULT:
            return {"type": self.type.value}
        return {"type": self.type.value, "keywords": list(self.keywords)}

    def matches(self, text: str | None) -> bool:
        """Keyword triggers only: the whole message (trimmed, spaces collapsed) or its first word."""
        if self.type is not TriggerType.KEYWORD or not text:
            return False
        whole = " ".join(text.split()).casefold()
        if not whole:
            return False
        first = whole.split(" ", 1)[0]
        return any(k.casefold() in (whole, first) for k in self.keywords)


@dataclass(slots=True, kw_only=True)
class Flow:
    id: UUID
    organization_id: UUID
    name: str
    description: str | None = None
    status: FlowStatus = FlowStatus.DRAFT
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    trigger: FlowTrigger | None = None
    published_version: int | None = None
    created_at: datetime
    updated_at: datetime

    def graph(self) -> FlowGraph:
        return FlowGraph.from_dicts(self.nodes, self.edges)


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowVersion:
    """An immutable snapshot made on publishing; executions run on the version they started on."""

    flow_id: UUID
    organization_id: UUID
    version: int
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    trigger: FlowTrigger | None
    created_at: datetime

    def graph(self) -> FlowGraph:
        return FlowGraph.from_dicts(self.nodes, self.edges)


@dataclass(slots=True, kw_only=True)
class FlowExecution:
    """One run of a flow version for one contact on one number. ``state`` is the engine's document."""

    id: UUID
    organization_id: UUID
    flow_id: UUID
    version: int
    contact_id: UUID
    number_id: UUID
    state: ExecutionState
    trigger: str
    automation_id: UUID | None = None
    started_at: datetime
    updated_at: datetime
    expires_at: datetime

    @property
    def status(self) -> ExecutionStatus:
        return self.state.status

    @property
    def current_node_id(self) -> str | None:
        return self.state.current_node_id

    @property
    def fail_reason(self) -> str | None:
        return self.state.fail_reason

    @property
    def finished_at(self) -> datetime | None:
        return self.state.finished_at

    @property
    def is_running(self) -> bool:
        return not self.state.is_terminal

    @property
    def path(self) -> tuple[str, ...]:
        return self.state.path

    @property
    def variables(self) -> Mapping[str, object]:
        return self.state.variables
