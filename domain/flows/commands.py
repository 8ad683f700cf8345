"""What the engine asks the application to do: the outputs of ``advance``, carried out in order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from domain.flows.templates import BodyValue, Template, body_secret_keys


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
    """A text message, or a media message (``media_type``, by ``media_url`` or ``media_id``) with ``text`` as its
    caption."""

    text: str
    media_url: str | None = None
    media_type: str = "image"
    media_id: str | None = None
    filename: str | None = None


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
    """Variables are substituted; the author's ``{{secret:KEY}}`` references are kept apart as ``SecretRef``
    segments (``templates.py``) for the application to resolve from the vault. Header names are the author's
    text (secret references only). ``body`` None sends no body; a ``Template`` is sent as text, a JSON tree
    as JSON."""

    call_id: str
    method: str
    url: Template
    headers: tuple[tuple[Template, Template], ...] = ()
    body: BodyValue = None
    timeout_seconds: int = 10

    @property
    def secret_keys(self) -> frozenset[str]:
        keys = self.url.secret_keys | body_secret_keys(self.body)
        return keys.union(*(name.secret_keys | value.secret_keys for name, value in self.headers))


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
