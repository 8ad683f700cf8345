"""Flow automations in the domain: the automation's status machine and each recipient's forward-only state."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.automations import (
    Automation,
    AutomationAlreadyStarted,
    AutomationStateConflict,
    AutomationStatus,
    RecipientState,
)
from domain.errors import Conflict
from tests.fakes import T0

S = AutomationStatus
R = RecipientState
LATER = T0 + timedelta(minutes=5)


def automation(status: AutomationStatus = S.DRAFT, *, schedule_at=None) -> Automation:  # type: ignore[no-untyped-def]
    return Automation(id=uuid4(), organization_id=uuid4(), flow_id=uuid4(), number_id=uuid4(), status=status,
                      schedule_at=schedule_at, created_at=T0, updated_at=T0)


# --------------------------------------------------------------------------- the automation


def test_start_runs_now_and_stamps_started_at() -> None:
    a = automation()
    a.start(LATER)
    assert (a.status, a.started_at, a.updated_at, a.finished_at) == (S.RUNNING, LATER, LATER, None)


def test_start_with_a_past_schedule_runs_now() -> None:
    a = automation(schedule_at=T0)
    a.start(LATER)
    assert (a.status, a.started_at) == (S.RUNNING, LATER)


def test_start_with_a_future_schedule_is_scheduled_then_begins_running_at_that_time() -> None:
    a = automation(schedule_at=LATER)
    a.start(T0)
    assert (a.status, a.started_at) == (S.SCHEDULED, None)
    assert a.begin_running(LATER) is True
    assert (a.status, a.started_at, a.updated_at) == (S.RUNNING, LATER, LATER)
    assert a.begin_running(LATER + timedelta(seconds=1)) is True  # already running: unchanged
    assert a.started_at == LATER


@pytest.mark.parametrize("status", [s for s in S if s is not S.DRAFT])
def test_start_twice_or_after_anything_but_draft_is_a_409(status: AutomationStatus) -> None:
    a = automation(status)
    with pytest.raises(AutomationAlreadyStarted) as raised:
        a.start(LATER)
    assert isinstance(raised.value, Conflict) and raised.value.code == "automation_already_started"
    assert (a.status, a.updated_at) == (status, T0)


def test_second_start_of_a_started_automation_is_refused() -> None:
    a = automation()
    a.start(T0)
    with pytest.raises(AutomationAlreadyStarted):
        a.start(LATER)
    assert (a.status, a.started_at) == (S.RUNNING, T0)


@pytest.mark.parametrize("status", [S.DRAFT, S.PAUSED, S.COMPLETED, S.CANCELLED])
def test_begin_running_only_moves_a_scheduled_automation(status: AutomationStatus) -> None:
    a = automation(status)
    assert a.begin_running(LATER) is False
    assert (a.status, a.started_at) == (status, None)


@pytest.mark.parametrize("status", [S.RUNNING, S.SCHEDULED, S.PAUSED])
def test_pause_is_legal_while_unfinished(status: AutomationStatus) -> None:
    a = automation(status)
    a.pause(LATER, "token expired")
    assert (a.status, a.paused_reason, a.updated_at) == (S.PAUSED, "token expired", LATER)


@pytest.mark.parametrize("status", [S.DRAFT, S.COMPLETED, S.CANCELLED])
def test_pause_is_a_conflict_when_not_started_or_finished(status: AutomationStatus) -> None:
    a = automation(status)
    with pytest.raises(AutomationStateConflict) as raised:
        a.pause(LATER)
    assert raised.value.code == "automation_state_conflict" and not isinstance(raised.value, AutomationAlreadyStarted)
    assert a.status is status


def test_resume_runs_again_and_clears_the_reason() -> None:
    a = automation()
    a.start(T0)
    a.pause(T0, "token expired")
    a.resume(LATER)
    assert (a.status, a.paused_reason, a.started_at, a.updated_at) == (S.RUNNING, None, T0, LATER)


def test_resume_of_an_automation_paused_before_it_ran_stamps_started_at() -> None:
    a = automation(S.PAUSED)
    a.resume(LATER)
    assert (a.status, a.started_at) == (S.RUNNING, LATER)


@pytest.mark.parametrize("status", [s for s in S if s is not S.PAUSED])
def test_resume_is_only_legal_when_paused(status: AutomationStatus) -> None:
    a = automation(status)
    with pytest.raises(AutomationStateConflict):
        a.resume(LATER)
    assert a.status is status


@pytest.mark.parametrize("status", [S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED])
def test_cancel_finishes_anything_unfinished(status: AutomationStatus) -> None:
    a = automation(status)
    a.cancel(LATER)
    assert (a.status, a.finished_at, a.updated_at) == (S.CANCELLED, LATER, LATER)


@pytest.mark.parametrize("status", [S.COMPLETED, S.CANCELLED])
def test_cancel_of_a_finished_automation_is_a_conflict(status: AutomationStatus) -> None:
    a = automation(status)
    with pytest.raises(AutomationStateConflict):
        a.cancel(LATER)
    assert (a.status, a.finished_at) == (status, None)


@pytest.mark.parametrize("status", list(S))
def test_complete_only_finishes_a_running_automation_whose_dispatching_is_over(status: AutomationStatus) -> None:
    a = automation(status)
    assert a.complete(LATER) is False  # still dispatching (or not running at all)
    assert (a.status, a.finished_at) == (status, None)
    a.finish_dispatching(T0)
    assert a.complete(LATER) is (status is S.RUNNING)
    if status is S.RUNNING:
        assert (a.status, a.finished_at, a.phase) == (S.COMPLETED, LATER, "completed")
    else:
        assert (a.status, a.finished_at) == (status, None)


def test_a_running_automation_is_dispatching_then_sending() -> None:
    a = automation()
    a.start(T0)
    assert a.phase == "dispatching"
    a.finish_dispatching(LATER)
    assert (a.phase, a.dispatch_finished_at) == ("sending", LATER)
    a.pause(LATER)
    assert a.phase == "paused"
    a.resume(LATER)  # recipients put back while paused get dispatched again
    assert (a.phase, a.dispatch_finished_at) == ("dispatching", None)


def test_a_cancelled_automation_never_completes_nor_resumes() -> None:
    a = automation()
    a.start(T0)
    a.cancel(LATER)
    a.complete(LATER + timedelta(seconds=1))
    with pytest.raises(AutomationStateConflict):
        a.resume(LATER)
    assert (a.status, a.finished_at) == (S.CANCELLED, LATER)


def test_template_is_read_from_the_config_only_when_it_is_an_object() -> None:
    a = automation()
    assert a.template is None
    a.config = {"template": "promo"}
    assert a.template is None
    a.config = {"template": {"name": "promo"}}
    assert a.template == {"name": "promo"}


# --------------------------------------------------------------------------- recipients


FORWARD = [R.PENDING, R.SENT, R.DELIVERED, R.READ, R.REPLIED, R.COMPLETED]


@pytest.mark.parametrize(("current", "incoming", "expected"), [
    (R.PENDING, R.SENT, R.SENT),
    (R.SENT, R.DELIVERED, R.DELIVERED),
    (R.DELIVERED, R.READ, R.READ),
    (R.READ, R.DELIVERED, R.READ),  # a late 'delivered' never moves it back
    (R.READ, R.SENT, R.READ),
    (R.DELIVERED, R.SENT, R.DELIVERED),
    (R.SENT, R.READ, R.READ),  # 'delivered' skipped (webhooks out of order)
    (R.READ, R.REPLIED, R.REPLIED),
    (R.REPLIED, R.READ, R.REPLIED),
    (R.REPLIED, R.COMPLETED, R.COMPLETED),
    (R.COMPLETED, R.READ, R.COMPLETED),
    (R.SENT, R.FAILED, R.FAILED),
    (R.PENDING, R.SKIPPED, R.SKIPPED),
    (R.FAILED, R.SENT, R.FAILED),
    (R.FAILED, R.DELIVERED, R.FAILED),
    (R.FAILED, R.READ, R.FAILED),
    (R.FAILED, R.SKIPPED, R.FAILED),
    (R.FAILED, R.REPLIED, R.REPLIED),  # a reply always counts
    (R.FAILED, R.COMPLETED, R.COMPLETED),
    (R.SKIPPED, R.SENT, R.SKIPPED),
    (R.SKIPPED, R.REPLIED, R.SKIPPED),
    (R.SKIPPED, R.FAILED, R.SKIPPED),
    (R.PENDING, R.PENDING, R.PENDING),
])
def test_advance_table(current: RecipientState, incoming: RecipientState, expected: RecipientState) -> None:
    assert current.advance(incoming) is expected


states = st.sampled_from(list(R))


@given(start=states, incoming=st.lists(states, max_size=30))
def test_advance_over_random_sequences(start: RecipientState, incoming: list[RecipientState]) -> None:
    state = start
    for item in incoming:
        new = state.advance(item)
        assert new in (state, item)  # it keeps its state or takes the incoming one, never a third
        if state is R.SKIPPED:
            assert new is R.SKIPPED  # terminal
        elif state is R.FAILED:
            assert new in (R.FAILED, R.REPLIED, R.COMPLETED)  # terminal except that replies count
        else:
            assert new.rank >= state.rank  # forward only
            assert new is (item if item.rank > state.rank else state)
        state = new
    if start is R.SKIPPED:
        assert state is R.SKIPPED
    if start is R.FAILED and not {R.REPLIED, R.COMPLETED} & set(incoming):
        assert state is R.FAILED


@given(st.lists(st.sampled_from([R.SENT, R.DELIVERED, R.READ]), min_size=1, max_size=12))
def test_message_statuses_in_any_order_end_at_the_furthest(incoming: list[RecipientState]) -> None:
    state = R.PENDING
    for item in incoming:
        state = state.advance(item)
    assert state is max(incoming, key=lambda s: s.rank)


@given(st.lists(st.sampled_from([R.SENT, R.DELIVERED, R.READ]), max_size=10),
       st.lists(st.sampled_from([R.SENT, R.DELIVERED, R.READ, R.FAILED, R.SKIPPED]), max_size=10))
def test_a_reply_is_never_undone_by_message_statuses_except_failure(before: list[RecipientState],
                                                                      after: list[RecipientState]) -> None:
    state = R.PENDING
    for item in [*before, R.REPLIED, *after]:
        state = state.advance(item)
    if not {R.FAILED, R.SKIPPED} & set(after):
        assert state is R.REPLIED
    else:
        assert state in (R.FAILED, R.SKIPPED)


def test_ranks_follow_the_documented_order() -> None:
    assert [s.rank for s in FORWARD] == sorted(s.rank for s in FORWARD)
    assert [s.value for s in R] == ["pending", "sent", "delivered", "read", "replied", "completed", "failed",
                                    "skipped"]
