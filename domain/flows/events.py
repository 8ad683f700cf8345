"""What can happen to an execution: the inputs of ``advance``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from domain.flows.state import ContactInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Started:
    """Begin at the start node. ``goto_depth`` > 0 when started by another flow's goto_flow."""

    contact: ContactInfo
    variables: Mapping[str, object] = field(default_factory=dict)
    goto_depth: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactReplied:
    """An inbound message. ``reply_id`` is the id of a tapped button or list row, when it is one."""

    message_id: str
    text: str | None = None
    reply_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired:
    timer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCallFinished:
    """``body``: the parsed JSON when the response was JSON, else its text. ``error``: transport failure."""

    call_id: str
    status_code: int | None = None
    body: object | None = None
    error: str | None = None


Event = Started | ContactReplied | TimerFired | HttpCallFinished
