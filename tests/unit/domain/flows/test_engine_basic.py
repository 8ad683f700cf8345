from __future__ import annotations

from domain.flows import (
    CancelTimer,
    ContactReplied,
    ExecutionState,
    ExecutionStatus,
    Fail,
    Finish,
    HandOff,
    HttpCallFinished,
    SendTemplate,
    SendText,
    Started,
    StartFlow,
    TimerFired,
    advance,
    expire,
)
from domain.flows.runner import MAX_GOTO_DEPTH

from .builders import CONTACT, NOW, edge, graph, linear, node, reply, start, step


def test_message_then_end_completes() -> None:
    flow = linear(node("m", "message", text="Hi {{contact.name}}, code {{code}}"), node("e", "end"))

    state, commands = start(flow, {"code": 7})

    assert commands == (SendText(text="Hi Ana, code 7"), Finish(outcome="completed"))
    assert state.status is ExecutionStatus.COMPLETED
    assert state.path == ("start", "m", "e")
    assert (state.steps_total, state.started_at, state.finished_at) == (3, NOW, NOW)
    assert state.current_node_id == "e" and state.waiting_for is None
    assert state.contact == CONTACT and state.variables == {"code": 7}


def test_message_with_media_sends_image_by_link_with_caption() -> None:
    flow = linear(node("m", "message", text="Look", media_url="https://cdn.io/{{file}}.png"))

    _, commands = start(flow, {"file": "a b"})

    assert commands[0] == SendText(text="Look", media_url="https://cdn.io/a%20b.png")


def test_message_with_an_uploaded_document_sends_it_by_media_id() -> None:
    flow = linear(node("m", "message", text="Your menu, {{contact.name}}", media_type="document",
                       media_id="1376223850470843", filename="menu.pdf"))

    _, commands = start(flow)

    assert commands[0] == SendText(text=f"Your menu, {CONTACT.name}", media_type="document",
                                   media_id="1376223850470843", filename="menu.pdf")


def test_message_whose_text_is_empty_after_interpolation_sends_nothing() -> None:
    state, commands = start(linear(node("m", "message", text="{{nothing}}")))

    assert commands == (Finish(),)
    assert state.status is ExecutionStatus.COMPLETED


def test_node_without_outgoing_edge_finishes() -> None:
    state, commands = start(linear(node("m", "message", text="only")))

    assert commands == (SendText(text="only"), Finish())
    assert state.status is ExecutionStatus.COMPLETED


def test_template_parameters_are_interpolated() -> None:
    flow = linear(
        node("t", "template", name="order_ready", language="pt_BR", parameters=["{{contact.name}}", 42])
    )

    _, commands = start(flow)

    assert commands[0] == SendTemplate(name="order_ready", language="pt_BR", parameters=("Ana", "42"))


def test_set_variable_single_and_multiple_assignments() -> None:
    flow = linear(
        node("v1", "set_variable", variable="greeting", value="Hi {{contact.name}}"),
        node(
            "v2",
            "set_variable",
            assignments=[{"variable": "n", "value": 3}, {"variable": "flag", "value": True}],
        ),
        node("m", "message", text="{{greeting}} {{n}} {{flag}}"),
    )

    state, commands = start(flow)

    assert commands == (SendText(text="Hi Ana 3 true"), Finish())
    assert state.variables == {"greeting": "Hi Ana", "n": 3, "flag": True}


def _branching(rules: list[dict[str, object]], match: str = "all") -> object:
    return graph(
        [
            node("start", "start"),
            node("c", "condition", rules=rules, match=match),
            node("yes", "end", text="yes"),
            node("no", "end", text="no"),
        ],
        [edge("start", "c"), edge("c", "yes", "true"), edge("c", "no", "false")],
    )


def test_condition_follows_true_and_false_handles() -> None:
    flow = _branching([{"variable": "age", "operator": "gt", "value": "17"}])

    adult_state, adult = start(flow, {"age": "18"})  # type: ignore[arg-type]
    minor_state, minor = start(flow, {"age": "abc"})  # type: ignore[arg-type]

    assert adult == (SendText(text="yes"), Finish())
    assert adult_state.path == ("start", "c", "yes")
    assert minor == (SendText(text="no"), Finish())


def test_condition_match_any() -> None:
    flow = _branching(
        [{"variable": "a", "operator": "equals", "value": "1"}, {"variable": "b", "operator": "exists"}],
        "any",
    )

    assert start(flow, {"b": "x"}).commands[0] == SendText(text="yes")  # type: ignore[arg-type]
    assert start(flow, {}).commands[0] == SendText(text="no")  # type: ignore[arg-type]


def test_condition_without_edge_on_taken_handle_finishes() -> None:
    flow = graph(
        [node("start", "start"), node("c", "condition", rules=[{"variable": "x", "operator": "exists"}])],
        [edge("start", "c")],
    )

    assert start(flow).commands == (Finish(),)


def test_handoff_sends_text_then_hands_off_and_is_terminal() -> None:
    flow = linear(node("h", "handoff", text="Wait for a human"))

    state, commands = start(flow)

    assert commands == (SendText(text="Wait for a human"), HandOff(reason="handoff"))
    assert state.status is ExecutionStatus.HANDED_OFF and state.finished_at == NOW
    assert step(flow, state, reply("hello")) == (state, ())


def test_handoff_reason_from_data() -> None:
    _, commands = start(linear(node("h", "handoff", reason="sales")))

    assert commands == (HandOff(reason="sales"),)


def test_goto_flow_starts_the_other_flow_with_variables_and_completes() -> None:
    flow = linear(
        node("v", "set_variable", variable="x", value="1"), node("g", "goto_flow", flow_id="flow-2")
    )

    state, commands = start(flow, {"a": "b"})

    assert commands == (StartFlow(flow_id="flow-2", variables={"a": "b", "x": "1"}, goto_depth=1), Finish())
    assert state.status is ExecutionStatus.COMPLETED


def test_goto_depth_passes_on_and_chains_without_waiting_are_capped() -> None:
    flow = linear(node("g", "goto_flow", flow_id="flow-2"))
    event = Started(contact=CONTACT, goto_depth=MAX_GOTO_DEPTH)

    state, commands = advance(flow, ExecutionState(), event, NOW)

    assert commands == (
        Fail(reason="goto_chain_limit_exceeded", detail="5 goto_flow hops in a row without waiting"),
    )
    assert state.status is ExecutionStatus.FAILED and state.fail_reason == "goto_chain_limit_exceeded"


def test_end_with_text() -> None:
    assert start(linear(node("e", "end", text="Bye {{contact.name}}"))).commands == (
        SendText(text="Bye Ana"),
        Finish(),
    )


def test_no_start_node_fails() -> None:
    state, commands = start(graph([node("e", "end")], []))

    assert commands == (Fail(reason="no_start_node"),)
    assert state.status is ExecutionStatus.FAILED


def test_unknown_node_type_fails_with_reason() -> None:
    state, commands = start(linear(node("x", "script", code="import os")))

    assert commands == (Fail(reason="unknown_node_type", detail="x: unknown node type 'script'"),)
    assert state.fail_reason == "unknown_node_type" and state.current_node_id == "x"


def test_invalid_node_data_fails_with_reason() -> None:
    _, commands = start(linear(node("m", "message")))

    assert commands == (Fail(reason="invalid_node_data", detail="m: 'text' is required"),)


def test_edge_to_missing_node_fails() -> None:
    flow = graph([node("start", "start")], [edge("start", "ghost")])

    assert start(flow).commands == (Fail(reason="node_not_found", detail="ghost"),)


def test_step_limit_stops_a_spinning_loop() -> None:
    flow = graph(
        [
            node("start", "start"),
            node("a", "set_variable", variable="x", value="1"),
            node("b", "message", text="b"),
        ],
        [edge("start", "a"), edge("a", "b"), edge("b", "a")],
    )

    state, commands = start(flow, max_steps=10)

    assert commands[-1] == Fail(reason="step_limit_exceeded", detail="more than 10 nodes ran for one event")
    assert commands[:-1] == (SendText(text="b"),) * 4  # start, then a,b,a,b,a,b,a,b,a: b is the 11th
    assert state.steps_total == 10 and state.status is ExecutionStatus.FAILED


def test_exactly_max_steps_nodes_may_run() -> None:
    flow = linear(*[node(f"m{i}", "message", text=str(i)) for i in range(4)])  # 5 nodes with start

    assert start(flow, max_steps=5).state.status is ExecutionStatus.COMPLETED
    assert start(flow, max_steps=4).state.fail_reason == "step_limit_exceeded"


def test_events_before_start_and_second_start_are_ignored() -> None:
    flow = linear(node("q", "question", text="?", variable="v"))
    fresh = ExecutionState()

    for event in (reply("x"), TimerFired(timer_id="q:2"), HttpCallFinished(call_id="q:2", status_code=200)):
        assert step(flow, fresh, event) == (fresh, ())
    state, _ = start(flow)
    assert step(flow, state, Started(contact=CONTACT)) == (state, ())


def test_terminal_states_ignore_everything() -> None:
    flow = linear(node("m", "message", text="x"))
    done, _ = start(flow)

    for event in (reply("x"), Started(contact=CONTACT), TimerFired(timer_id="t")):
        assert step(flow, done, event) == (done, ())


def test_expire_cancels_the_pending_timer() -> None:
    flow = linear(node("d", "delay", seconds=60))
    waiting, _ = start(flow)

    expired, commands = expire(waiting, NOW)

    assert commands == (CancelTimer(timer_id="d:2"),)
    assert expired.status is ExecutionStatus.EXPIRED and expired.pending_timer_id is None
    assert expire(expired, NOW) == (expired, ())


def test_reply_event_type_is_exported() -> None:
    assert ContactReplied(message_id="m").text is None
