from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.flows import (
    CancelTimer,
    ExecutionStatus,
    Fail,
    Finish,
    FlowGraph,
    ScheduleTimer,
    SendText,
    TimerFired,
    WaitingFor,
)

from .builders import NOW, edge, graph, node, reply, start, step


def question_flow(exits: tuple[str, ...] = (), **data: Any) -> FlowGraph:
    question = {"text": "Your email?", "variable": "email", "validation": "email", **data}
    nodes = [
        node("start", "start"),
        node("q", "question", **question),
        node("ok", "end", text="Thanks {{email}}"),
        node("bad", "end", text="Giving up"),
        node("late", "end", text="Too late"),
    ]
    edges = [edge("start", "q"), edge("q", "ok")]
    if "invalid" in exits:
        edges.append(edge("q", "bad", "invalid"))
    if "timeout" in exits:
        edges.append(edge("q", "late", "timeout"))
    return graph(nodes, edges)


def test_question_asks_and_waits() -> None:
    state, commands = start(question_flow())

    assert commands == (SendText(text="Your email?"),)
    assert (state.status, state.waiting_for, state.current_node_id) == (
        ExecutionStatus.WAITING,
        WaitingFor.REPLY,
        "q",
    )
    assert state.pending_timer_id is None and state.retries == 0


def test_valid_answer_is_saved_and_flow_continues() -> None:
    flow = question_flow()
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, reply("  ana@example.com "))

    assert commands == (SendText(text="Thanks ana@example.com"), Finish())
    assert state.variables == {"email": "ana@example.com"}
    assert state.status is ExecutionStatus.COMPLETED and state.path == ("start", "q", "ok")


def test_invalid_answer_sends_retry_message_and_keeps_waiting() -> None:
    flow = question_flow(retry_message="That is not an email, {{contact.name}}")
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, reply("nope"))

    assert commands == (SendText(text="That is not an email, Ana"),)
    assert state.retries == 1 and state.waiting_for is WaitingFor.REPLY and state.current_node_id == "q"
    assert state.path == ("start", "q")


def test_without_retry_message_the_question_is_asked_again() -> None:
    flow = question_flow()
    waiting, _ = start(flow)

    assert step(flow, waiting, reply("nope")).commands == (SendText(text="Your email?"),)


def test_max_retries_exhausted_without_invalid_edge_fails() -> None:
    flow = question_flow(max_retries=1, retry_message="again")
    state, _ = start(flow)
    state, first = step(flow, state, reply("x"))

    state, commands = step(flow, state, reply("y"))

    assert first == (SendText(text="again"),)
    assert commands == (Fail(reason="max_retries_exceeded", detail="q"),)
    assert state.status is ExecutionStatus.FAILED and state.fail_reason == "max_retries_exceeded"


def test_default_max_retries_is_two_then_invalid_handle() -> None:
    flow = question_flow(exits=("invalid",), retry_message="again")
    state, _ = start(flow)
    outputs = []
    for text in ("a", "b", "c"):
        state, commands = step(flow, state, reply(text))
        outputs.append(commands)

    assert outputs == [
        (SendText(text="again"),),
        (SendText(text="again"),),
        (SendText(text="Giving up"), Finish()),
    ]
    assert state.path == ("start", "q", "bad")


def test_max_retries_zero_exits_at_first_invalid_answer() -> None:
    flow = question_flow(exits=("invalid",), max_retries=0)
    state, _ = start(flow)

    assert step(flow, state, reply("x")).commands == (SendText(text="Giving up"), Finish())


def test_timeout_is_scheduled_and_cancelled_on_answer() -> None:
    flow = question_flow(exits=("timeout",), timeout_seconds=300)

    waiting, asked = start(flow)
    done, commands = step(flow, waiting, reply("ana@example.com"))

    assert asked == (
        SendText(text="Your email?"),
        ScheduleTimer(timer_id="q:2", fire_at=NOW + timedelta(seconds=300)),
    )
    assert waiting.pending_timer_id == "q:2" and waiting.waiting_for is WaitingFor.REPLY
    assert commands == (CancelTimer(timer_id="q:2"), SendText(text="Thanks ana@example.com"), Finish())
    assert done.pending_timer_id is None


def test_retries_keep_the_original_timer() -> None:
    flow = question_flow(exits=("timeout",), timeout_seconds=300)
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, reply("bad"))

    assert commands == (SendText(text="Your email?"),)
    assert state.pending_timer_id == "q:2"


def test_timeout_follows_timeout_handle() -> None:
    flow = question_flow(exits=("timeout",), timeout_seconds=300)
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, TimerFired(timer_id="q:2"), NOW + timedelta(seconds=300))

    assert commands == (SendText(text="Too late"), Finish())
    assert state.path == ("start", "q", "late") and state.pending_timer_id is None


def test_timeout_without_timeout_edge_fails() -> None:
    flow = question_flow(timeout_seconds=60)
    waiting, _ = start(flow)

    state, commands = step(flow, waiting, TimerFired(timer_id="q:2"))

    assert commands == (Fail(reason="timeout", detail="q"),)
    assert state.status is ExecutionStatus.FAILED and state.fail_reason == "timeout"


def test_invalid_exit_cancels_the_pending_timeout() -> None:
    flow = question_flow(exits=("invalid", "timeout"), timeout_seconds=60, max_retries=0)
    waiting, _ = start(flow)

    assert step(flow, waiting, reply("x")).commands == (
        CancelTimer(timer_id="q:2"),
        SendText(text="Giving up"),
        Finish(),
    )


def test_stale_timer_is_ignored() -> None:
    flow = question_flow(exits=("timeout",), timeout_seconds=60)
    waiting, _ = start(flow)

    assert step(flow, waiting, TimerFired(timer_id="q:1")) == (waiting, ())
    done, _ = step(flow, waiting, reply("ana@example.com"))
    assert step(flow, done, TimerFired(timer_id="q:2")) == (done, ())


def test_timer_for_a_question_without_timeout_is_ignored() -> None:
    flow = question_flow()
    waiting, _ = start(flow)

    assert step(flow, waiting, TimerFired(timer_id="q:2")) == (waiting, ())


def test_number_question_stores_a_number() -> None:
    flow = question_flow(validation="number", variable="qty")
    flow_state, _ = start(flow)

    state, _ = step(flow, flow_state, reply("12"))

    assert state.variables == {"qty": 12}


def test_options_question_stores_the_option_value() -> None:
    options = [{"value": "pt", "label": "Português"}, "English"]
    flow = question_flow(validation="options", options=options, variable="lang")
    waiting, _ = start(flow)

    assert step(flow, waiting, reply("português")).state.variables == {"lang": "pt"}
    assert step(flow, waiting, reply("ENGLISH")).state.variables == {"lang": "English"}
    assert step(flow, waiting, reply("Deutsch")).state.retries == 1


def test_question_loop_resets_retries_on_re_entry() -> None:
    flow = graph(
        [
            node("start", "start"),
            node("q", "question", text="Age?", variable="age", validation="number"),
            node("c", "condition", rules=[{"variable": "age", "operator": "lt", "value": 18}]),
        ],
        [edge("start", "q"), edge("q", "c"), edge("c", "q", "true")],
    )
    state, _ = start(flow)
    state, _ = step(flow, state, reply("x"))
    assert state.retries == 1

    state, commands = step(flow, state, reply("10"))

    assert commands == (SendText(text="Age?"),)
    assert state.retries == 0 and state.path == ("start", "q", "c", "q") and state.steps_total == 4
