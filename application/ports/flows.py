"""Ports of flows: the flow store with its versions, the execution store, and outbound HTTP for flow nodes."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.flows.records import Flow, FlowExecution, FlowVersion


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStat:
    """``reached``: executions whose path went through the node; ``waiting``: running ones parked on it;
    ``dropped``: executions that ended there without completing (failed or expired)."""

    node_id: str
    reached: int = 0
    waiting: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowStats:
    total: int = 0
    completed: int = 0
    finished: int = 0  # executions in a terminal state
    avg_duration_ms: float | None = None  # of completed executions
    nodes: tuple[NodeStat, ...] = field(default_factory=tuple)

    @property
    def success_rate(self) -> float:
        return self.completed / self.finished if self.finished else 0.0


class FlowRepository(Protocol):
    """Organization-scoped."""

    @abstractmethod
    async def add(self, flow: Flow) -> None: ...

    @abstractmethod
    async def get(self, flow_id: UUID, *, for_update: bool = False) -> Flow | None: ...

    @abstractmethod
    async def update(self, flow: Flow) -> None: ...

    @abstractmethod
    async def delete(self, flow_id: UUID) -> bool: ...

    @abstractmethod
    async def get_version(self, flow_id: UUID, version: int) -> FlowVersion | None: ...

    @abstractmethod
    async def add_version(self, version: FlowVersion) -> None: ...

    @abstractmethod
    async def with_triggers(self) -> list[Flow]:
        """Active flows that have a trigger, oldest first."""

    @abstractmethod
    async def list(self, *, limit: int, offset: int) -> tuple[list[Flow], int]:
        """Newest first, with the total."""


class FlowExecutionRepository(Protocol):
    """Organization-scoped, except ``expire_overdue`` (system scope: the periodic sweep)."""

    @abstractmethod
    async def add(self, execution: FlowExecution) -> None:
        """Raises ExecutionAlreadyRunning when the contact has a running execution on the number."""

    @abstractmethod
    async def running_for(self, number_id: UUID, contact_id: UUID, *, for_update: bool = True
                          ) -> FlowExecution | None:
        """The contact's running (or waiting) execution on the number; locked: this lock serializes events."""

    @abstractmethod
    async def running_for_many(self, pairs: Sequence[tuple[UUID, UUID]]) -> dict[tuple[UUID, UUID], FlowExecution]:
        """:meth:`running_for` for many ``(number_id, contact_id)`` pairs at once, locked in id order."""

    @abstractmethod
    async def get(self, execution_id: UUID, *, for_update: bool = False) -> FlowExecution | None: ...

    @abstractmethod
    async def update(self, execution: FlowExecution) -> None: ...

    @abstractmethod
    async def list_for_flow(self, flow_id: UUID, *, limit: int, offset: int) -> tuple[list[FlowExecution], int]:
        """Newest first, with the total."""

    @abstractmethod
    async def count_running_for_flow(self, flow_id: UUID) -> int: ...

    @abstractmethod
    async def stats(self, flow_id: UUID) -> FlowStats:
        """Aggregated by the store (SQL), never by loading every execution."""

    @abstractmethod
    async def expire_overdue(self, now: datetime, limit: int) -> list[FlowExecution]:
        """Running executions past ``expires_at``, locked (skipping rows locked elsewhere)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponseData:
    status_code: int
    body: object  # parsed JSON when the response is JSON, else its text


class HttpCallError(Exception):
    """The call was refused (``blocked``: SSRF rules, ``too_large``) or failed (``timeout``, ``failed``)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


class HttpCaller(Protocol):
    @abstractmethod
    async def call(self, method: str, url: str, headers: Mapping[str, str], body: object | None,
                   timeout_seconds: float) -> HttpResponseData:
        """One request, no redirects followed; raises HttpCallError."""
