"""Node types, their typed ``data`` (specs) and their outgoing handles.

Parsing lives in ``parsing.py``; every spec is built even from incomplete data (missing text reads
as ""), so validation can still check edges, and the engine refuses a node whose parse had problems.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.flows.commands import ListSection, ReplyButton

NODE_TYPES = frozenset(
    {
        "start",
        "message",
        "template",
        "question",
        "buttons",
        "list",
        "condition",
        "set_variable",
        "delay",
        "http_request",
        "handoff",
        "goto_flow",
        "end",
    }
)
WAITING_TYPES = frozenset({"question", "buttons", "list", "delay", "http_request"})
"""Nodes that park the execution until the contact, a timer or an HTTP call answers."""
TERMINAL_TYPES = frozenset({"handoff", "goto_flow", "end"})
"""Nodes with no outgoing handle."""

QUESTION_VALIDATIONS = frozenset({"text", "number", "email", "phone", "regex", "options"})
CONDITION_OPERATORS = frozenset({"equals", "not_equals", "contains", "regex", "gt", "lt", "exists"})
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})

TIMEOUT_HANDLE = "timeout"
INVALID_HANDLE = "invalid"
TRUE_HANDLE, FALSE_HANDLE = "true", "false"
SUCCESS_HANDLE, ERROR_HANDLE = "success", "error"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartSpec:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSpec:
    """A text, or a media message (``media_type``) by hosted ``media_url`` or uploaded ``media_id`` with ``text`` as
    its caption (documents: and ``filename``)."""

    text: str
    media_url: str | None = None
    media_type: str = "image"
    media_id: str | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TemplateSpec:
    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QuestionSpec:
    text: str
    variable: str
    validation: str = "text"
    pattern: str | None = None
    options: tuple[Option, ...] = ()
    retry_message: str | None = None
    max_retries: int = 2
    timeout_seconds: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonsSpec:
    text: str
    buttons: tuple[ReplyButton, ...]
    variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSpec:
    text: str
    button: str
    sections: tuple[ListSection, ...]
    variable: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    variable: str
    operator: str
    value: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConditionSpec:
    rules: tuple[Rule, ...]
    match: str = "all"


@dataclass(frozen=True, slots=True, kw_only=True)
class Assignment:
    variable: str
    value: object = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetVariableSpec:
    assignments: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DelaySpec:
    seconds: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpRequestSpec:
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: object = None
    timeout_seconds: int = 10
    save: tuple[tuple[str, str], ...] = ()  # (variable, json path)


@dataclass(frozen=True, slots=True, kw_only=True)
class HandoffSpec:
    text: str | None = None
    reason: str = "handoff"


@dataclass(frozen=True, slots=True, kw_only=True)
class GotoFlowSpec:
    flow_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EndSpec:
    text: str | None = None


NodeSpec = (
    StartSpec
    | MessageSpec
    | TemplateSpec
    | QuestionSpec
    | ButtonsSpec
    | ListSpec
    | ConditionSpec
    | SetVariableSpec
    | DelaySpec
    | HttpRequestSpec
    | HandoffSpec
    | GotoFlowSpec
    | EndSpec
)


def list_row_ids(spec: ListSpec) -> tuple[str, ...]:
    return tuple(row.id for section in spec.sections for row in section.rows)


def handles_of(spec: NodeSpec) -> frozenset[str | None]:
    """The source handles an edge may leave this node through (None = the default handle)."""
    match spec:
        case QuestionSpec():
            return frozenset({None, TIMEOUT_HANDLE, INVALID_HANDLE})
        case ButtonsSpec():
            return frozenset(b.id for b in spec.buttons)
        case ListSpec():
            return frozenset(list_row_ids(spec))
        case ConditionSpec():
            return frozenset({TRUE_HANDLE, FALSE_HANDLE})
        case HttpRequestSpec():
            return frozenset({SUCCESS_HANDLE, ERROR_HANDLE})
        case HandoffSpec() | GotoFlowSpec() | EndSpec():
            return frozenset()
        case _:
            return frozenset({None})
