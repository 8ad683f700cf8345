"""What operators watch: the job queue, dead letters and webhook lag (system scope)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueDepth:
    entrypoint: str
    status: str
    count: int
    oldest_age_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetter:
    kind: str  # "job" or "webhook"
    id: str
    entrypoint: str
    attempts: int
    failed_at: datetime | None
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationalStats:
    queue: list[QueueDepth]
    webhooks_pending: int
    oldest_pending_webhook_age_seconds: float
    dead_letters: int


class OperationsMonitor(Protocol):
    @abstractmethod
    async def stats(self) -> OperationalStats: ...

    @abstractmethod
    async def dead_letters(self, *, limit: int, offset: int) -> tuple[list[DeadLetter], int]: ...
