"""The flow domain: graph model, publishing validation, and the pure execution engine."""

from __future__ import annotations

from domain.flows.commands import (
    CallHttp,
    CancelTimer,
    Command,
    Fail,
    Finish,
    HandOff,
    ListRow,
    ListSection,
    ReplyButton,
    ScheduleTimer,
    SendButtons,
    SendList,
    SendTemplate,
    SendText,
    StartFlow,
)
from domain.flows.engine import DEFAULT_MAX_STEPS, Advance, advance, expire
from domain.flows.errors import FlowInvalid
from domain.flows.events import ContactReplied, Event, HttpCallFinished, Started, TimerFired
from domain.flows.graph import FlowEdge, FlowGraph, FlowNode, Position
from domain.flows.interpolation import interpolate
from domain.flows.nodes import NODE_TYPES, WAITING_TYPES
from domain.flows.problems import FlowProblem
from domain.flows.state import ContactInfo, ExecutionState, ExecutionStatus, WaitingFor
from domain.flows.validation import ensure_valid, validate_graph

__all__ = [
    "DEFAULT_MAX_STEPS",
    "NODE_TYPES",
    "WAITING_TYPES",
    "Advance",
    "CallHttp",
    "CancelTimer",
    "Command",
    "ContactInfo",
    "ContactReplied",
    "Event",
    "ExecutionState",
    "ExecutionStatus",
    "Fail",
    "Finish",
    "FlowEdge",
    "FlowGraph",
    "FlowInvalid",
    "FlowNode",
    "FlowProblem",
    "HandOff",
    "HttpCallFinished",
    "ListRow",
    "ListSection",
    "Position",
    "ReplyButton",
    "ScheduleTimer",
    "SendButtons",
    "SendList",
    "SendTemplate",
    "SendText",
    "StartFlow",
    "Started",
    "TimerFired",
    "WaitingFor",
    "advance",
    "ensure_valid",
    "expire",
    "interpolate",
    "validate_graph",
]
