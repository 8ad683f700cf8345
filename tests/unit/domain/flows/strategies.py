"""Hypothesis strategies: random VALID flow graphs and event sequences driven by the current state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from domain.flows import ContactReplied, Event, ExecutionState, FlowGraph, HttpCallFinished, TimerFired

from .builders import edge, node

VARS = ["a", "b", "c"]
TEXTS = st.sampled_from(["hi", "{{a}}", "x {{contact.name}}", "{{b}} {{missing}}", "n={{c}}"])
NON_TERMINAL = [
    "message",
    "template",
    "question",
    "buttons",
    "list",
    "condition",
    "set_variable",
    "delay",
    "http_request",
]
TERMINAL = ["handoff", "goto_flow", "end"]
WAITING = {"question", "buttons", "list", "delay", "http_request"}


@st.composite
def node_data(draw: st.DrawFn, node_type: str, node_id: str) -> tuple[dict[str, Any], list[str | None]]:
    """Valid ``data`` for the type and the handles its edges may use."""
    if node_type == "message":
        data: dict[str, Any] = {"text": draw(TEXTS)}
        if draw(st.booleans()):
            data["media_url"] = "https://cdn.example.com/{{a}}.png"
        return data, [None]
    if node_type == "template":
        return {"name": "tpl_x", "language": "pt_BR", "parameters": draw(st.lists(TEXTS, max_size=3))}, [None]
    if node_type == "question":
        validation = draw(st.sampled_from(["text", "number", "email", "phone", "regex", "options"]))
        data = {
            "text": draw(TEXTS),
            "variable": draw(st.sampled_from(VARS)),
            "validation": validation,
            "max_retries": draw(st.integers(0, 3)),
        }
        if validation == "regex":
            data["pattern"] = "[0-9]+"
        if validation == "options":
            data["options"] = ["yes", {"value": "n", "label": "no"}]
        if draw(st.booleans()):
            data["timeout_seconds"] = draw(st.integers(1, 1000))
        if draw(st.booleans()):
            data["retry_message"] = "again {{a}}"
        return data, [None, "timeout", "invalid"]
    if node_type == "buttons":
        count = draw(st.integers(1, 3))
        buttons = [{"id": f"{node_id}b{k}", "title": f"Opt{k}"} for k in range(count)]
        data = {"text": draw(TEXTS), "buttons": buttons}
        if draw(st.booleans()):
            data["variable"] = draw(st.sampled_from(VARS))
        return data, [b["id"] for b in buttons]
    if node_type == "list":
        sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
        sections, rows_seen = [], 0
        for s_index, size in enumerate(sizes):
            rows = [{"id": f"{node_id}r{rows_seen + k}", "title": f"Row{rows_seen + k}"} for k in range(size)]
            rows_seen += size
            sections.append({"title": f"S{s_index}", "rows": rows})
        data = {
            "text": draw(TEXTS),
            "button": "Menu",
            "sections": sections,
            "variable": draw(st.sampled_from(VARS)),
        }
        return data, [row["id"] for section in sections for row in section["rows"]]
    if node_type == "condition":
        rule = st.fixed_dictionaries(
            {
                "variable": st.sampled_from([*VARS, "contact.name", "http_status"]),
                "operator": st.sampled_from(
                    ["equals", "not_equals", "contains", "regex", "gt", "lt", "exists"]
                ),
                "value": st.sampled_from(["1", "10", "x", "a.*", 5, "{{a}}", "yes"]),
            }
        )
        rules = draw(st.lists(rule, min_size=1, max_size=3))
        return {"rules": rules, "match": draw(st.sampled_from(["all", "any"]))}, ["true", "false"]
    if node_type == "set_variable":
        return {
            "variable": draw(st.sampled_from(VARS)),
            "value": draw(st.one_of(TEXTS, st.integers(-5, 50))),
        }, [None]
    if node_type == "delay":
        return {"seconds": draw(st.integers(1, 1000))}, [None]
    if node_type == "http_request":
        data = {
            "method": draw(st.sampled_from(["GET", "POST"])),
            "url": "https://x.io/{{a}}",
            "headers": {"Authorization": "Bearer {{secret:K}}"},
            "body": {"a": "{{a}}"},
            "save": {draw(st.sampled_from(VARS)): "data.v"},
        }
        return data, ["success", "error"]
    if node_type == "handoff":
        return {"text": draw(TEXTS)}, []
    if node_type == "goto_flow":
        return {"flow_id": "other-flow"}, []
    return ({"text": draw(TEXTS)} if draw(st.booleans()) else {}), []


@st.composite
def valid_flows(draw: st.DrawFn) -> FlowGraph:
    """A tree grown from start, plus forward edges, plus back edges that leave only from waiting nodes
    (so every cycle passes through a node that waits)."""
    nodes = [node("n0", "start")]
    types = {"n0": "start"}
    free: list[tuple[str, str | None]] = [("n0", None)]
    edges: list[dict[str, Any]] = []
    for index in range(1, draw(st.integers(1, 12))):
        if not free:
            break
        node_type = draw(st.sampled_from(NON_TERMINAL + TERMINAL))
        node_id = f"n{index}"
        data, handles = draw(node_data(node_type, node_id))
        source, handle = free.pop(draw(st.integers(0, len(free) - 1)))
        edges.append(edge(source, node_id, handle, edge_id=f"e{len(edges)}"))
        nodes.append(node(node_id, node_type, **data))
        types[node_id] = node_type
        free.extend((node_id, h) for h in handles)
    for _ in range(draw(st.integers(0, 6))):
        if not free:
            break
        source, handle = free[draw(st.integers(0, len(free) - 1))]
        position = int(source[1:])
        if types[source] in WAITING:
            target = draw(st.integers(0, len(nodes) - 1))
        elif position + 1 < len(nodes):
            target = draw(st.integers(position + 1, len(nodes) - 1))
        else:
            continue
        free.remove((source, handle))
        edges.append(edge(source, f"n{target}", handle, edge_id=f"e{len(edges)}"))
    return FlowGraph.from_dicts(nodes, edges)


def option_ids(flow: FlowGraph) -> list[str]:
    """Button and row ids found anywhere in node data (tolerates garbage)."""
    ids: list[str] = []
    pending: list[object] = [n.data for n in flow.nodes]
    while pending:
        item = pending.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get("id"), str):
                ids.append(item["id"])
            pending.extend(item.values())
        elif isinstance(item, tuple):
            pending.extend(item)
    return sorted(ids)


REPLY_TEXTS = [
    "",
    "hi",
    "42",
    "7,5",
    "ana@example.com",
    "+55 11 99999-0000",
    "Opt0",
    "opt1",
    "Row1",
    "yes",
    "NO",
    "{{secret:K}}",
    "123",
]


@st.composite
def next_event(draw: st.DrawFn, flow: FlowGraph, state: ExecutionState) -> Event:
    kind = draw(st.sampled_from(["reply", "reply", "timer", "http", "stale_timer", "stale_http"]))
    if kind == "reply":
        text = draw(st.one_of(st.none(), st.sampled_from(REPLY_TEXTS), st.text(max_size=20)))
        reply_id = draw(st.one_of(st.none(), st.sampled_from(option_ids(flow) or ["x"]), st.text(max_size=5)))
        return ContactReplied(message_id=draw(st.text(min_size=1, max_size=5)), text=text, reply_id=reply_id)
    if kind == "timer":
        return TimerFired(timer_id=state.pending_timer_id or "none")
    if kind == "stale_timer":
        return TimerFired(timer_id=draw(st.text(max_size=6)))
    call_id = state.pending_call_id or "none" if kind == "http" else draw(st.text(max_size=6))
    return HttpCallFinished(
        call_id=call_id,
        status_code=draw(st.sampled_from([200, 201, 204, 302, 404, 500, None])),
        body=draw(st.sampled_from([None, {"data": {"v": 1}}, '{"data": {"v": "s"}}', "plain", [1, 2]])),
        error=draw(st.sampled_from([None, None, "connect timeout"])),
    )
