"""Ports shared by every use case: time, the durable job queue, mail."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol


class Clock(Protocol):
    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""


class JobQueue(Protocol):
    """The durable job queue, bound to the unit of work's transaction.

    A job enqueued here exists if and only if the transaction commits.
    """

    @abstractmethod
    async def enqueue(
        self,
        entrypoint: str,
        payload: Mapping[str, Any],
        *,
        dedupe_key: str | None = None,
        delay: timedelta | None = None,
        priority: int = 0,
    ) -> bool:
        """Queue a job; returns False when a queued job with the same dedupe_key already exists."""

    @abstractmethod
    async def wake(self, topic: str, payload: str = "") -> None:
        """Wake the workers waiting on ``topic`` once the transaction commits (nothing when it rolls back);
        a hint only: workers also look on their own every few seconds."""


class Mailer(Protocol):
    @abstractmethod
    async def send(self, *, to: str, subject: str, body: str) -> None:
        """Deliver one plain-text email. Raises Unavailable when the mail server cannot be reached."""


class Total(int):
    """How many items a list has in all: exact, or (``estimated``) the database's estimate once the count
    passed the exact-count limit. An ``int`` everywhere a number is expected."""

    estimated: bool

    def __new__(cls, value: int, *, estimated: bool = False) -> Total:
        total = super().__new__(cls, value)
        total.estimated = estimated
        return total

    def __str__(self) -> str:  # int's str is its repr, overridden below
        return int.__repr__(self)

    def __repr__(self) -> str:
        return f"Total({int.__repr__(self)}, estimated={self.estimated})"
