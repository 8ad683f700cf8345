from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.flows import (
    NODE_TYPES,
    Advance,
    Command,
    ContactReplied,
    Event,
    ExecutionState,
    ExecutionStatus,
    Fail,
    Finish,
    FlowGraph,
    HandOff,
    HttpCallFinished,
    Started,
    TimerFired,
    WaitingFor,
    advance,
    validate_graph,
)

from .builders import CONTACT, NOW
from .strategies import next_event, valid_flows

EXAMPLES = int(os.environ.get("FLOW_PROPERTY_EXAMPLES", "200"))  # raise it locally to hunt harder
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BROKEN_GRAPH_REASONS = {"node_not_found", "unknown_node_type", "invalid_node_data", "node_not_waiting"}


def check_invariants(before: ExecutionState, result: Advance, max_steps: int, flow: FlowGraph) -> None:
    state, commands = result
    assert state.steps_total - before.steps_total <= max_steps
    if state.is_terminal:
        assert state.waiting_for is None and state.pending_timer_id is None and state.pending_call_id is None
    else:
        assert state.status is ExecutionStatus.WAITING and state.waiting_for is not None
        if state.waiting_for is WaitingFor.TIMER:
            assert state.pending_timer_id is not None
        if state.waiting_for is WaitingFor.HTTP:
            assert state.pending_call_id is not None
        if state.waiting_for is WaitingFor.REPLY:
            waiting_on = flow.node(state.current_node_id)
            assert waiting_on is not None and waiting_on.type in {"question", "buttons", "list"}
    check_commands(state, commands)
    document = json.loads(json.dumps(state.to_dict(), allow_nan=False))
    assert ExecutionState.from_dict(document) == state


def check_commands(state: ExecutionState, commands: tuple[Command, ...]) -> None:
    for command in commands[:-1]:
        assert not isinstance(command, Finish | Fail | HandOff), commands
    last = commands[-1] if commands else None
    if isinstance(last, Finish):
        assert state.status is ExecutionStatus.COMPLETED
    if isinstance(last, Fail):
        assert state.status is ExecutionStatus.FAILED and state.fail_reason == last.reason
        assert last.reason != "internal_error", last
    if isinstance(last, HandOff):
        assert state.status is ExecutionStatus.HANDED_OFF


def must_be_ignored(state: ExecutionState, event: Event) -> bool:
    if state.is_terminal:
        return True
    if isinstance(event, TimerFired):
        return event.timer_id != state.pending_timer_id
    if isinstance(event, HttpCallFinished):
        return state.waiting_for is not WaitingFor.HTTP or event.call_id != state.pending_call_id
    if isinstance(event, ContactReplied):
        return state.waiting_for is not WaitingFor.REPLY
    return False


@SETTINGS
@given(flow=valid_flows(), data=st.data())
def test_valid_flows_always_end_up_terminal_or_waiting(flow: FlowGraph, data: st.DataObject) -> None:
    assert validate_graph(flow) == []
    max_steps = data.draw(st.sampled_from([50, 50, 1, 2, 3, 5]))
    variables = data.draw(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["1", "x", 12, None]))
    )
    state = ExecutionState()
    result = advance(flow, state, Started(contact=CONTACT, variables=variables), NOW, max_steps=max_steps)
    check_invariants(state, result, max_steps, flow)
    for _ in range(data.draw(st.integers(0, 12))):
        state = result.state
        event = data.draw(next_event(flow, state))
        result = advance(flow, state, event, NOW, max_steps=max_steps)
        check_invariants(state, result, max_steps, flow)
        if must_be_ignored(state, event):
            assert result == (state, ())
        last = result.commands[-1] if result.commands else None
        if isinstance(last, Fail):
            assert last.reason not in BROKEN_GRAPH_REASONS, last
            if max_steps == 50:
                assert last.reason != "step_limit_exceeded"  # no loop without waiting in a valid graph


JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.floats(allow_nan=False)
)
JSON = st.recursive(
    JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
KEYS = st.sampled_from(
    [
        "text",
        "variable",
        "buttons",
        "sections",
        "rules",
        "seconds",
        "url",
        "method",
        "value",
        "validation",
        "options",
        "flow_id",
        "save",
        "timeout_seconds",
        "max_retries",
        "name",
    ]
)


@st.composite
def garbage_flows(draw: st.DrawFn) -> FlowGraph:
    ids = [f"n{i}" for i in range(draw(st.integers(0, 6)))]
    node_id = st.sampled_from([*ids, "ghost", 3]) if ids else st.just("ghost")
    nodes: list[Any] = [
        {
            "id": i,
            "type": draw(st.sampled_from([*sorted(NODE_TYPES), "start", "script", ""])),
            "data": draw(st.dictionaries(KEYS, JSON, max_size=5)),
        }
        for i in ids
    ]
    nodes.extend(draw(st.lists(JSON, max_size=2)))
    edges: list[Any] = [
        {
            "id": f"e{k}",
            "source": draw(node_id),
            "target": draw(node_id),
            "sourceHandle": draw(
                st.sampled_from([None, "true", "false", "success", "error", "timeout", "invalid"])
            ),
        }
        for k in range(draw(st.integers(0, 10)))
    ]
    return FlowGraph.from_dicts(nodes, edges)


@SETTINGS
@given(flow=garbage_flows(), data=st.data())
def test_any_graph_never_breaks_the_engine(flow: FlowGraph, data: st.DataObject) -> None:
    validate_graph(flow)  # never raises
    max_steps = data.draw(st.sampled_from([50, 3]))
    state = ExecutionState()
    result = advance(flow, state, Started(contact=CONTACT), NOW, max_steps=max_steps)
    check_invariants(state, result, max_steps, flow)
    for _ in range(data.draw(st.integers(0, 8))):
        state = result.state
        result = advance(flow, state, data.draw(next_event(flow, state)), NOW, max_steps=max_steps)
        check_invariants(state, result, max_steps, flow)


@settings(max_examples=200, deadline=None)
@given(nodes=JSON, edges=JSON)
def test_from_dicts_never_raises_and_round_trips_what_it_kept(nodes: object, edges: object) -> None:
    flow = FlowGraph.from_dicts(nodes, edges)

    assert FlowGraph.from_dicts(*flow.to_dicts()) == flow.__class__(nodes=flow.nodes, edges=flow.edges)
    validate_graph(flow)
