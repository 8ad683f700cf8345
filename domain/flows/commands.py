"""What the engine asks the application to do: the outputs of ``advance``, carried out in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyButton:
    id: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ListSection:
    title: str | None
    rows: tuple[ListRow, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendText:
    """A text message, or an image sent by link with ``text`` as its caption when ``media_url`` is set."""

    text: str
    media_url: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SendTemplate:
    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendButtons:
    text: str
    buttons: tuple[ReplyButton, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendList:
    text: str
    button: str
    sections: tuple[ListSection, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTimer:
    timer_id: str
    fire_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHttp:
    """Values are interpolated except ``{{secret:KEY}}``, which the application resolves from the vault."""

    call_id: str
    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: object | None = None
    timeout_seconds: int = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class HandOff:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StartFlow:
    flow_id: str
    variables: Mapping[str, object] = field(default_factory=dict)
    goto_depth: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Finish:
    outcome: Literal["completed"] = "completed"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fail:
    reason: str
    detail: str | None = None


Command = (
    SendText
    | SendTemplate
    | SendButtons
    | SendList
    | ScheduleTimer
    | CancelTimer
    | CallHttp
    | HandOff
    | StartFlow
    | Finish
    | Fail
)
