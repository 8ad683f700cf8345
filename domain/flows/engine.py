"""The flow engine: ``advance(flow, state, event, now) -> Advance(state, commands)``.

Pure and deterministic: no clock, no randomness, no I/O. The application persists the returned
state and carries out the commands in order. Timer and HTTP call ids are ``"{node_id}:{steps_total}"``
(unique within one execution; scope them by execution id outside).

Rules worth knowing:
- After every call the execution is either terminal (completed/failed/handed_off/expired) or
  ``waiting`` for a reply, a timer or an HTTP result. An event on a terminal state changes nothing.
- Events that do not concern what the execution waits for are **ignored** (same state, no
  commands): a reply during a delay or an HTTP call, a reply before Started, a second Started,
  a stale ``TimerFired`` (not the pending timer id), an ``HttpCallFinished`` for another call id.
  The application may route such a reply elsewhere (e.g. a keyword trigger) or drop it.
- A question's timeout runs from when the question was first sent; retries do not restart it.
- A buttons/list node answered with something that is no option re-sends its prompt once; later
  non-matching replies are ignored and it keeps waiting.
- At most ``max_steps`` nodes run per call; one more fails the execution ("step_limit_exceeded").
- Never raises: unknown nodes, missing edges and bad data end in a ``Fail`` command with a reason:
  no_start_node, node_not_found, unknown_node_type, invalid_node_data, node_not_waiting,
  max_retries_exceeded, timeout, http_request_failed, step_limit_exceeded,
  goto_chain_limit_exceeded, and (a bug, never expected) internal_error.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import NamedTuple

from domain.flows.answers import check_answer
from domain.flows.commands import CancelTimer, Command, Fail
from domain.flows.events import ContactReplied, Event, HttpCallFinished, Started, TimerFired
from domain.flows.graph import FlowGraph, FlowNode
from domain.flows.nodes import (
    ERROR_HANDLE,
    INVALID_HANDLE,
    SUCCESS_HANDLE,
    TIMEOUT_HANDLE,
    ButtonsSpec,
    DelaySpec,
    HttpRequestSpec,
    ListSpec,
    NodeSpec,
    QuestionSpec,
    list_row_ids,
)
from domain.flows.parsing import parse_node
from domain.flows.runner import Runner
from domain.flows.state import ExecutionState, ExecutionStatus, WaitingFor
from domain.flows.values import extract_json_path, json_safe

DEFAULT_MAX_STEPS = 50


class Advance(NamedTuple):
    state: ExecutionState
    commands: tuple[Command, ...]


def advance(
    flow: FlowGraph, state: ExecutionState, event: Event, now: datetime, *, max_steps: int = DEFAULT_MAX_STEPS
) -> Advance:
    if state.status.is_terminal:
        return Advance(state, ())
    try:
        runner = Runner(flow, state, now, max_steps)
        if not _dispatch(runner, state, event):
            return Advance(state, ())
        return Advance(runner.state(), tuple(runner.commands))
    except Exception as exc:  # a safety net: the engine must never take the caller down
        return _crashed(state, now, exc)


def expire(state: ExecutionState, now: datetime) -> Advance:
    """End a non-terminal execution as ``expired`` (e.g. abandoned for too long), cancelling its timer."""
    if state.status.is_terminal:
        return Advance(state, ())
    commands = (CancelTimer(timer_id=state.pending_timer_id),) if state.pending_timer_id else ()
    ended = replace(
        state,
        status=ExecutionStatus.EXPIRED,
        waiting_for=None,
        pending_timer_id=None,
        pending_call_id=None,
        finished_at=now,
    )
    return Advance(ended, commands)


def _crashed(state: ExecutionState, now: datetime, exc: Exception) -> Advance:
    commands: list[Command] = []
    if state.pending_timer_id:
        commands.append(CancelTimer(timer_id=state.pending_timer_id))
    commands.append(Fail(reason="internal_error", detail=type(exc).__name__))
    failed = replace(
        state,
        status=ExecutionStatus.FAILED,
        waiting_for=None,
        pending_timer_id=None,
        pending_call_id=None,
        fail_reason="internal_error",
        finished_at=now,
    )
    return Advance(failed, tuple(commands))


def _dispatch(runner: Runner, state: ExecutionState, event: Event) -> bool:
    """Apply the event; False when it is ignored."""
    if isinstance(event, Started):
        if state.started_at is not None or state.steps_total:
            return False
        runner.variables = dict(json_safe(event.variables))
        runner.contact, runner.started_at, runner.goto_depth = event.contact, runner.now, event.goto_depth
        starts = runner.flow.start_nodes()
        if starts:
            runner.run_from(starts[0].id)
        else:
            runner.fail("no_start_node")
        return True
    if state.started_at is None:
        return False
    if isinstance(event, ContactReplied):
        return state.waiting_for is WaitingFor.REPLY and _on_reply(runner, event)
    if isinstance(event, TimerFired):
        return (
            state.pending_timer_id is not None
            and event.timer_id == state.pending_timer_id
            and _on_timer(runner)
        )
    if isinstance(event, HttpCallFinished):
        return (
            state.waiting_for is WaitingFor.HTTP
            and event.call_id == state.pending_call_id
            and _on_http(runner, event)
        )
    return False


def _waiting_node(runner: Runner) -> tuple[FlowNode, NodeSpec] | None:
    """The node the execution waits on, parsed; fails the execution when it is gone or broken."""
    node = runner.flow.node(runner.current)
    if node is None:
        runner.fail("node_not_found", runner.current)
        return None
    parsed = parse_node(node)
    if parsed.spec is None or parsed.problems:
        runner.fail("invalid_node_data", f"{node.id}: {'; '.join(parsed.problems)}")
        return None
    return node, parsed.spec


def _on_reply(runner: Runner, event: ContactReplied) -> bool:
    found = _waiting_node(runner)
    if found is None:
        return True
    node, spec = found
    if isinstance(spec, QuestionSpec):
        _answer_question(runner, node, spec, event)
        return True
    if isinstance(spec, ButtonsSpec | ListSpec):
        choice = _choose(spec, event)
        if choice is not None:
            if spec.variable:
                runner.variables[spec.variable] = choice
            runner.leave_wait()
            runner.follow(node.id, choice)
            return True
        if runner.retries > 0:
            return False  # re-prompted once already: keep waiting quietly
        runner.retries += 1
        runner.prompt(spec, retry=True)
        return True
    runner.fail("node_not_waiting", node.id)
    return True


def _answer_question(runner: Runner, node: FlowNode, spec: QuestionSpec, event: ContactReplied) -> None:
    answer = check_answer(spec, event.text, event.reply_id)
    if answer.valid:
        runner.variables[spec.variable] = answer.value
        runner.leave_wait()
        runner.follow(node.id, None)
    elif runner.retries < spec.max_retries:
        runner.retries += 1
        runner.prompt(spec, retry=True)
    else:
        runner.leave_wait()
        edge = runner.flow.edge_for(node.id, INVALID_HANDLE)
        if edge is None:
            runner.fail("max_retries_exceeded", node.id)
        else:
            runner.run_from(edge.target)


def _choose(spec: ButtonsSpec | ListSpec, event: ContactReplied) -> str | None:
    """The button/row id the reply picks: by id, else by (case-insensitive) title."""
    if isinstance(spec, ButtonsSpec):
        options = [(b.id, b.title) for b in spec.buttons]
    else:
        titles = [row.title for section in spec.sections for row in section.rows]
        options = list(zip(list_row_ids(spec), titles, strict=True))
    if event.reply_id is not None:
        for option_id, _title in options:
            if option_id == event.reply_id:
                return option_id
    folded = (event.text or "").strip().casefold()
    if folded:
        for option_id, title in options:
            if title.strip().casefold() == folded:
                return option_id
    return None


def _on_timer(runner: Runner) -> bool:
    found = _waiting_node(runner)
    if found is None:
        return True
    node, spec = found
    runner.timer_id = None  # it fired: nothing to cancel
    if isinstance(spec, DelaySpec):
        runner.leave_wait()
        runner.follow(node.id, None)
    elif isinstance(spec, QuestionSpec):
        runner.leave_wait()
        edge = runner.flow.edge_for(node.id, TIMEOUT_HANDLE)
        if edge is None:
            runner.fail("timeout", node.id)
        else:
            runner.run_from(edge.target)
    else:
        runner.fail("node_not_waiting", node.id)
    return True


def _on_http(runner: Runner, event: HttpCallFinished) -> bool:
    found = _waiting_node(runner)
    if found is None:
        return True
    node, spec = found
    if not isinstance(spec, HttpRequestSpec):
        runner.fail("node_not_waiting", node.id)
        return True
    status = event.status_code
    ok = event.error is None and status is not None and 200 <= status < 300
    runner.variables["http_status"] = status
    runner.leave_wait()
    if ok:
        runner.variables.pop("http_error", None)
        for variable, path in spec.save:
            runner.variables[variable] = extract_json_path(event.body, path)
        runner.follow(node.id, SUCCESS_HANDLE)
        return True
    runner.variables["http_error"] = event.error or f"HTTP {status}"
    edge = runner.flow.edge_for(node.id, ERROR_HANDLE)
    if edge is None:
        runner.fail("http_request_failed", f"{node.id}: {runner.variables['http_error']}")
    else:
        runner.run_from(edge.target)
    return True
