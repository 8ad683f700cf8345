from __future__ import annotations

import json
from datetime import timedelta

import pytest

from domain.errors import InvalidValue
from domain.flows import ContactInfo, ExecutionState, ExecutionStatus, WaitingFor

from .builders import NOW


def test_state_round_trips_through_json() -> None:
    state = ExecutionState(
        status=ExecutionStatus.WAITING,
        current_node_id="q",
        waiting_for=WaitingFor.REPLY,
        pending_timer_id="q:4",
        pending_call_id=None,
        retries=1,
        variables={"a": 1, "b": [1, {"c": None}], "d": 2.5, "e": True},
        contact=ContactInfo(whatsapp_id="5511", name="Ana", email=None, attributes={"k": ["v"]}),
        path=("start", "m", "q"),
        steps_total=4,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=3),
        fail_reason=None,
        goto_depth=2,
    )

    document = json.loads(json.dumps(state.to_dict()))

    assert document["status"] == "waiting" and document["waiting_for"] == "reply" and document["v"] == 1
    assert ExecutionState.from_dict(document) == state


def test_fresh_state_round_trips() -> None:
    assert ExecutionState.from_dict(ExecutionState().to_dict()) == ExecutionState()


def test_to_dict_makes_odd_values_json_safe() -> None:
    state = ExecutionState(variables={"t": (1, 2), "nan": float("nan"), "obj": object})

    document = state.to_dict()

    json.dumps(document, allow_nan=False)
    assert document["variables"]["t"] == [1, 2] and document["variables"]["nan"] is None


@pytest.mark.parametrize("document", [{}, {"status": "sleeping"}, {"status": "waiting", "retries": "x"}])
def test_malformed_documents_raise_invalid_value(document: dict[str, object]) -> None:
    with pytest.raises(InvalidValue):
        ExecutionState.from_dict(document)
