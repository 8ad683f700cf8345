"""The mutable working copy of an execution during one ``advance`` call, and how each node runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import quote

from domain.flows.commands import (
    CallHttp,
    CancelTimer,
    Command,
    Fail,
    Finish,
    HandOff,
    ScheduleTimer,
    SendButtons,
    SendList,
    SendTemplate,
    SendText,
    StartFlow,
)
from domain.flows.conditions import evaluate_condition
from domain.flows.graph import FlowGraph, FlowNode
from domain.flows.interpolation import interpolate, interpolate_json, interpolate_template, secret_template
from domain.flows.nodes import (
    FALSE_HANDLE,
    TRUE_HANDLE,
    ButtonsSpec,
    ConditionSpec,
    DelaySpec,
    EndSpec,
    GotoFlowSpec,
    HandoffSpec,
    HttpRequestSpec,
    ListSpec,
    MessageSpec,
    NodeSpec,
    QuestionSpec,
    SetVariableSpec,
    StartSpec,
    TemplateSpec,
)
from domain.flows.parsing import BUTTONS_BODY_MAX, CAPTION_MAX, TEXT_MAX, parse_node
from domain.flows.state import MAX_PATH, ExecutionState, ExecutionStatus, WaitingFor
from domain.flows.templates import BodyValue

MAX_GOTO_DEPTH = 5
"""goto_flow hops allowed in a row without the chain ever waiting (A -> B -> A ... cannot spin)."""


class Go:
    """Leave the node just run through ``handle`` (None = the default handle)."""

    __slots__ = ("handle",)

    def __init__(self, handle: str | None = None) -> None:
        self.handle = handle


class Runner:
    def __init__(self, flow: FlowGraph, state: ExecutionState, now: datetime, max_steps: int) -> None:
        self.flow, self.now, self.max_steps = flow, now, max_steps
        self.status, self.current = state.status, state.current_node_id
        self.waiting_for, self.retries = state.waiting_for, state.retries
        self.timer_id, self.call_id = state.pending_timer_id, state.pending_call_id
        self.variables: dict[str, object] = dict(state.variables)
        self.contact, self.path = state.contact, list(state.path)
        self.steps_total, self.started_at = state.steps_total, state.started_at
        self.finished_at, self.fail_reason = state.finished_at, state.fail_reason
        self.goto_depth = state.goto_depth
        self.steps = 0
        self.commands: list[Command] = []

    def state(self) -> ExecutionState:
        return ExecutionState(
            status=self.status,
            current_node_id=self.current,
            waiting_for=self.waiting_for,
            pending_timer_id=self.timer_id,
            pending_call_id=self.call_id,
            retries=self.retries,
            variables=self.variables,
            contact=self.contact,
            path=tuple(self.path[-MAX_PATH:]),
            steps_total=self.steps_total,
            started_at=self.started_at,
            finished_at=self.finished_at,
            fail_reason=self.fail_reason,
            goto_depth=self.goto_depth,
        )

    # -- moving through the graph ------------------------------------------------------------

    def follow(self, node_id: str, handle: str | None) -> None:
        """Take the edge on ``handle``; no such edge ends the execution as completed."""
        edge = self.flow.edge_for(node_id, handle)
        if edge is None:
            self.finish()
        else:
            self.run_from(edge.target)

    def run_from(self, node_id: str) -> None:
        target: str | None = node_id
        while target is not None:
            if self.steps >= self.max_steps:
                self.fail("step_limit_exceeded", f"more than {self.max_steps} nodes ran for one event")
                return
            node = self.flow.node(target)
            if node is None:
                self.fail("node_not_found", target)
                return
            self.steps += 1
            self.steps_total += 1
            self.path.append(node.id)
            self.current, self.retries = node.id, 0
            parsed = parse_node(node)
            if parsed.spec is None or parsed.problems:
                reason = "unknown_node_type" if parsed.spec is None else "invalid_node_data"
                self.fail(reason, f"{node.id}: {'; '.join(parsed.problems)}")
                return
            go = self.enter(node, parsed.spec)
            if go is None:
                return
            edge = self.flow.edge_for(node.id, go.handle)
            if edge is None:
                self.finish()
                return
            target = edge.target

    # -- waiting and ending ------------------------------------------------------------------

    def wait(self, what: WaitingFor, *, timer_id: str | None = None, call_id: str | None = None) -> None:
        self.status, self.waiting_for, self.goto_depth = ExecutionStatus.WAITING, what, 0
        self.timer_id = timer_id
        self.call_id = call_id

    def leave_wait(self) -> None:
        """Stop waiting; a timer still pending (e.g. a question's timeout) is cancelled."""
        if self.timer_id is not None:
            self.commands.append(CancelTimer(timer_id=self.timer_id))
        self.timer_id = self.call_id = self.waiting_for = None
        self.status, self.retries = ExecutionStatus.RUNNING, 0

    def _end(self, status: ExecutionStatus, command: Command) -> None:
        self.leave_wait()
        self.commands.append(command)
        self.status, self.finished_at = status, self.now

    def finish(self) -> None:
        self._end(ExecutionStatus.COMPLETED, Finish())

    def fail(self, reason: str, detail: str | None = None) -> None:
        self._end(ExecutionStatus.FAILED, Fail(reason=reason, detail=detail))
        self.fail_reason = reason

    # -- running one node ----------------------------------------------------------------------

    def interp(self, template: str) -> str:
        return interpolate(template, self.variables, self.contact)

    def send_text(self, template: str, *, media_url: str | None = None, media_type: str = "image",
                  media_id: str | None = None, filename: str | None = None) -> None:
        media = media_url is not None or media_id is not None
        text = self.interp(template)[: CAPTION_MAX if media else TEXT_MAX]
        if text.strip() or media:
            self.commands.append(SendText(text=text, media_url=media_url, media_type=media_type, media_id=media_id,
                                          filename=filename))

    def prompt(self, spec: QuestionSpec | ButtonsSpec | ListSpec, *, retry: bool = False) -> None:
        match spec:
            case QuestionSpec():
                self.send_text((spec.retry_message or spec.text) if retry else spec.text)
            case ButtonsSpec():
                text = self.interp(spec.text)[:BUTTONS_BODY_MAX]
                self.commands.append(SendButtons(text=text, buttons=spec.buttons))
            case ListSpec():
                text = self.interp(spec.text)[:TEXT_MAX]
                self.commands.append(SendList(text=text, button=spec.button, sections=spec.sections))

    def _url(self, template: str) -> str:
        """Substituted values are percent-encoded, so a contact's answer cannot add query parameters."""
        return interpolate(template, self.variables, self.contact, encode=_url_value)

    def _new_id(self, node: FlowNode) -> str:
        return f"{node.id}:{self.steps_total}"

    def _schedule(self, node: FlowNode, seconds: int) -> str:
        timer_id = self._new_id(node)
        self.commands.append(ScheduleTimer(timer_id=timer_id, fire_at=self.now + timedelta(seconds=seconds)))
        return timer_id

    def enter(self, node: FlowNode, spec: NodeSpec) -> Go | None:
        """Run a node just reached. A ``Go`` continues through a handle; None means stop here."""
        match spec:
            case StartSpec():
                return Go()
            case MessageSpec():
                media = self._url(spec.media_url) if spec.media_url else None
                self.send_text(spec.text, media_url=media, media_type=spec.media_type, media_id=spec.media_id,
                               filename=spec.filename)
                return Go()
            case TemplateSpec():
                parameters = tuple(self.interp(p) for p in spec.parameters)
                self.commands.append(
                    SendTemplate(name=spec.name, language=spec.language, parameters=parameters)
                )
                return Go()
            case QuestionSpec() | ButtonsSpec() | ListSpec():
                self.prompt(spec)
                timeout = spec.timeout_seconds if isinstance(spec, QuestionSpec) else None
                timer_id = self._schedule(node, timeout) if timeout else None
                self.wait(WaitingFor.REPLY, timer_id=timer_id)
                return None
            case ConditionSpec():
                matched = evaluate_condition(spec, self.variables, self.contact)
                return Go(TRUE_HANDLE if matched else FALSE_HANDLE)
            case SetVariableSpec():
                for assignment in spec.assignments:
                    value = assignment.value
                    self.variables[assignment.variable] = (
                        self.interp(value) if isinstance(value, str) else value
                    )
                return Go()
            case DelaySpec():
                self.wait(WaitingFor.TIMER, timer_id=self._schedule(node, spec.seconds))
                return None
            case HttpRequestSpec():
                call = self._http_call(self._new_id(node), spec)
                self.commands.append(call)
                self.wait(WaitingFor.HTTP, call_id=call.call_id)
                return None
            case HandoffSpec():
                if spec.text:
                    self.send_text(spec.text)
                self._end(ExecutionStatus.HANDED_OFF, HandOff(reason=spec.reason))
                return None
            case GotoFlowSpec():
                self._goto(spec)
                return None
            case EndSpec():
                if spec.text:
                    self.send_text(spec.text)
                self.finish()
                return None
        self.fail("unknown_node_type", node.id)  # pragma: no cover - every spec type is matched above
        return None

    def _goto(self, spec: GotoFlowSpec) -> None:
        if self.goto_depth >= MAX_GOTO_DEPTH:
            self.fail(
                "goto_chain_limit_exceeded", f"{MAX_GOTO_DEPTH} goto_flow hops in a row without waiting"
            )
            return
        variables = dict(self.variables)
        self.commands.append(
            StartFlow(flow_id=spec.flow_id, variables=variables, goto_depth=self.goto_depth + 1)
        )
        self.finish()

    def _http_call(self, call_id: str, spec: HttpRequestSpec) -> CallHttp:
        """Every author string becomes a ``Template``: its secret references are found in the author's text
        before any variable is substituted, so nothing a contact wrote can become one."""
        v, c = self.variables, self.contact
        body: BodyValue = None
        if isinstance(spec.body, str):
            as_json = spec.body.lstrip().startswith(("{", "["))
            body = interpolate_template(spec.body, v, c, encode=_json_string_value if as_json else None)
        elif spec.body is not None:
            body = interpolate_json(spec.body, v, c)
        return CallHttp(
            call_id=call_id,
            method=spec.method,
            url=interpolate_template(spec.url, v, c, encode=_url_value),
            headers=tuple((secret_template(k), interpolate_template(h, v, c, encode=_header_value))
                          for k, h in spec.headers.items()),
            body=body,
            timeout_seconds=spec.timeout_seconds,
        )


def _url_value(value: str) -> str:
    return quote(value, safe="")


def _header_value(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ")


def _json_string_value(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]
