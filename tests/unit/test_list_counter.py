"""List totals: exact values are never remembered; an estimate past the limit is, for its time to live only."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import given
from hypothesis import strategies as st

from adapters.postgres.counting import ListCounter, plan_rows
from application.ports.common import Total


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_estimate_is_at_least_what_the_capped_count_saw_and_is_remembered_until_it_expires() -> None:
    ticks = Ticks()
    counter = ListCounter(exact_limit=10, cache_seconds=5, monotonic=ticks)
    key = ("contacts", uuid4(), None)
    assert counter.cached(key) is None
    total = counter.remember(key, 3)  # the planner guessed fewer than the count already found
    assert (int(total), total.estimated) == (11, True)
    ticks.now += 4.9
    again = counter.cached(key)
    assert again is not None and (int(again), again.estimated) == (11, True)
    ticks.now += 0.2
    assert counter.cached(key) is None


def test_with_no_time_to_live_nothing_is_remembered() -> None:
    counter = ListCounter(exact_limit=10, cache_seconds=0)
    key = ("flows", uuid4())
    assert counter.remember(key, 500) == 500
    assert counter.cached(key) is None


def test_organizations_and_filters_never_share_an_estimate() -> None:
    counter = ListCounter(exact_limit=10, cache_seconds=60)
    mine, theirs = uuid4(), uuid4()
    counter.remember(("contacts", mine, None), 5000)
    assert counter.cached(("contacts", theirs, None)) is None
    assert counter.cached(("contacts", mine, "maria")) is None


@given(st.integers(min_value=0, max_value=2**62), st.booleans())
def test_a_total_is_the_int_it_counts(value: int, estimated: bool) -> None:
    total = Total(value, estimated=estimated)
    assert total == value and str(total) == str(value) and total.estimated is estimated
    assert Total(value).estimated is False


def test_plan_rows_reads_the_top_node_of_explain_json() -> None:
    assert plan_rows('[{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 98765}}]') == 98765
    assert plan_rows([{"Plan": {"Plan Rows": 3}}]) == 3
