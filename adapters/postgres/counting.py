"""List totals that cost little: exact up to a limit, past it the planner's estimate (PostgREST's
``count=estimated``).

Counting every row of a 100,000-contact organization on each page request was most of a list's cost. Here a
count reads at most ``exact_limit + 1`` rows; when it finds more, the total is the planner's row estimate for the
same query (at least ``exact_limit + 1``), flagged ``estimated``, and remembered for ``cache_seconds`` in this
process, so a large organization's list counts once per interval instead of on every page. Below the limit the
count is always exact and never cached (a contact just created is counted at once). Nothing is written: no
counter row that concurrent webhook processing would have to update.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from application.ports.common import Total

_MAX_CACHED = 10_000
"""Remembered estimates per process; the oldest half is dropped past this (a bound, not an LRU)."""


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON) <select>`` with the select's bound parameters (planned, never run)."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + str(compiler.process(element.statement, **kw))


def plan_rows(plan: Any) -> int:
    """The top node's row estimate from ``EXPLAIN (FORMAT JSON)`` output (text or decoded)."""
    document = json.loads(plan) if isinstance(plan, str | bytes) else plan
    return int(document[0]["Plan"]["Plan Rows"])


class ListCounter:
    """One per process (its estimates are shared by every unit of work of the process)."""

    def __init__(self, *, exact_limit: int = 10_000, cache_seconds: float = 10.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        if exact_limit < 1:
            raise ValueError("exact_limit must be at least 1")
        self.exact_limit = exact_limit
        self._ttl, self._monotonic = cache_seconds, monotonic
        self._estimates: dict[Hashable, tuple[float, int]] = {}

    def cached(self, key: Hashable) -> Total | None:
        found = self._estimates.get(key)
        if found is None:
            return None
        if found[0] <= self._monotonic():
            self._estimates.pop(key, None)
            return None
        return Total(found[1], estimated=True)

    def remember(self, key: Hashable, estimate: int) -> Total:
        value = max(estimate, self.exact_limit + 1)  # the capped count saw that many
        if self._ttl > 0:
            if len(self._estimates) >= _MAX_CACHED:
                for old in list(self._estimates)[:_MAX_CACHED // 2]:
                    del self._estimates[old]
            self._estimates[key] = (self._monotonic() + self._ttl, value)
        return Total(value, estimated=True)

    async def total(self, session: AsyncSession, rows: Select[Any] | str, *, key: Hashable,
                    params: Mapping[str, Any] | None = None) -> Total:
        """The total of ``rows`` (a select of the listed rows, or their SQL from ``FROM`` on with ``params``);
        ``key`` names the list and its filters, the organization included."""
        cached = self.cached(key)
        if cached is not None:
            return cached
        cap = self.exact_limit + 1
        if isinstance(rows, str):
            found = (await session.execute(text(f"SELECT count(*) FROM (SELECT 1 {rows} LIMIT {cap}) AS capped"),
                                           dict(params or {}))).scalar_one()
        else:
            found = (await session.execute(select(func.count()).select_from(rows.limit(cap).subquery()))
                     ).scalar_one()
        if found <= self.exact_limit:
            return Total(int(found))
        if isinstance(rows, str):
            plan = (await session.execute(text(f"EXPLAIN (FORMAT JSON) SELECT 1 {rows}"), dict(params or {}))
                    ).scalar_one()
        else:
            plan = (await session.execute(_Explain(rows))).scalar_one()
        return self.remember(key, plan_rows(plan))
