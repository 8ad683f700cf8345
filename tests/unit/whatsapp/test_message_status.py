"""Message statuses only move forward, whatever order the webhooks arrive in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidValue
from domain.messaging import CustomerServiceWindow, MessageDirection, MessageStatus, StatusUpdate, next_status

S = MessageStatus
ORDER = [S.QUEUED, S.SENT, S.DELIVERED, S.READ, S.FAILED]


def test_ranks_follow_queued_sent_delivered_read_then_failed() -> None:
    assert [status.rank for status in ORDER] == [0, 1, 2, 3, 4]
    assert [status.is_terminal for status in ORDER] == [False, False, False, False, True]


@pytest.mark.parametrize(
    ("current", "incoming", "expected"),
    [
        (S.QUEUED, S.SENT, S.SENT),
        (S.SENT, S.DELIVERED, S.DELIVERED),
        (S.DELIVERED, S.READ, S.READ),
        (S.QUEUED, S.READ, S.READ),  # "delivered" may be skipped when read at once
        (S.READ, S.DELIVERED, S.READ),  # late delivered never moves back
        (S.DELIVERED, S.SENT, S.DELIVERED),
        (S.READ, S.SENT, S.READ),
        (S.QUEUED, S.FAILED, S.FAILED),
        (S.SENT, S.FAILED, S.FAILED),
        (S.FAILED, S.READ, S.FAILED),  # failed is terminal
        (S.FAILED, S.SENT, S.FAILED),
        (S.FAILED, S.DELIVERED, S.FAILED),
        (S.SENT, S.SENT, S.SENT),
    ],
)
def test_next_status(current: S, incoming: S, expected: S) -> None:
    assert next_status(current, incoming) is expected
    assert current.advance(incoming) is expected


@given(st.lists(st.sampled_from(ORDER[1:]), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_any_arrival_order_ends_at_the_highest_status(statuses: list[S], random: object) -> None:
    shuffled = list(statuses)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    final_in_order = reduce(next_status, statuses, S.QUEUED)
    final_shuffled = reduce(next_status, shuffled, S.QUEUED)
    assert final_in_order is final_shuffled is max(statuses, key=lambda status: status.rank)


@given(st.permutations([S.SENT, S.DELIVERED, S.READ, S.FAILED]))
def test_every_permutation_of_all_four_webhooks_ends_failed(statuses: list[S]) -> None:
    assert reduce(next_status, statuses, S.QUEUED) is S.FAILED


@given(st.permutations([S.SENT, S.DELIVERED, S.READ]))
def test_every_permutation_of_successful_webhooks_ends_read(statuses: list[S]) -> None:
    seen = [S.QUEUED]
    for status in statuses:
        seen.append(seen[-1].advance(status))
    assert seen[-1] is S.READ
    assert [status.rank for status in seen] == sorted(status.rank for status in seen)  # never backwards


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sent", S.SENT),
        ("delivered", S.DELIVERED),
        ("read", S.READ),
        ("failed", S.FAILED),
        ("played", S.READ),
        ("queued", None),
        ("deleted", None),
        ("", None),
    ],
)
def test_webhook_values_map_to_statuses(raw: str, expected: S | None) -> None:
    assert S.from_webhook(raw) is expected
    update = StatusUpdate(phone_number_id="1", wamid="wamid.x", status=raw, timestamp=datetime.now(UTC))
    assert update.message_status is expected


def test_directions() -> None:
    assert [direction.value for direction in MessageDirection] == ["inbound", "outbound", "system"]


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("last_inbound", "is_open"),
    [
        (None, False),
        (NOW, True),
        (NOW - timedelta(hours=23, minutes=59, seconds=59), True),
        (NOW - timedelta(hours=24), False),
        (NOW - timedelta(days=3), False),
        (NOW + timedelta(seconds=30), True),  # slight clock skew
    ],
)
def test_customer_service_window(last_inbound: datetime | None, is_open: bool) -> None:
    assert CustomerServiceWindow.is_open(last_inbound, NOW) is is_open


def test_window_closes_24_hours_after_the_last_inbound_message() -> None:
    assert CustomerServiceWindow.closes_at(NOW) == NOW + timedelta(hours=24)
    assert CustomerServiceWindow.closes_at(None) is None


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_window_is_open_exactly_below_24_hours(offset_seconds: int) -> None:
    last = NOW - timedelta(hours=24) + timedelta(seconds=offset_seconds)
    assert CustomerServiceWindow.is_open(last, NOW) is (offset_seconds > 0)


def test_window_refuses_naive_datetimes() -> None:
    with pytest.raises(InvalidValue):
        CustomerServiceWindow.is_open(NOW, datetime(2026, 5, 1, 12, 0))
    with pytest.raises(InvalidValue):
        CustomerServiceWindow.is_open(datetime(2026, 5, 1, 12, 0), NOW)
