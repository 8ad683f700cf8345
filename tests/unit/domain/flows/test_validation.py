from __future__ import annotations

from typing import Any

import pytest

from domain.errors import RuleViolation
from domain.flows import FlowGraph, FlowInvalid, FlowProblem, ensure_valid, validate_graph

from .builders import edge, graph, linear, node


def problems_of(flow: FlowGraph) -> list[FlowProblem]:
    return validate_graph(flow)


def only_node(node_type: str, **data: Any) -> list[str]:
    """Problems of a single node placed after start (node id 'n')."""
    return [p.problem for p in problems_of(linear(node("n", node_type, **data))) if p.node_id == "n"]


FULL_FLOW = graph(
    [
        node("s", "start"),
        node("m", "message", text="Hi {{contact.name}}", media_url="https://cdn.example.com/{{img}}.png"),
        node("t", "template", name="welcome_1", language="pt_BR", parameters=["{{contact.name}}", 3]),
        node("q", "question", text="Email?", variable="email", validation="email", timeout_seconds=60),
        node("b", "buttons", text="Pick", buttons=[{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}]),
        node(
            "l",
            "list",
            text="Menu",
            button="Open",
            sections=[{"title": "A", "rows": [{"id": "r1", "title": "One"}]}],
        ),
        node("c", "condition", rules=[{"variable": "email", "operator": "exists"}], match="any"),
        node("v", "set_variable", assignments=[{"variable": "x", "value": "{{email}}"}]),
        node("d", "delay", seconds=5),
        node(
            "h",
            "http_request",
            method="post",
            url="https://api.example.com/{{x}}",
            headers={"Authorization": "Bearer {{secret:API_TOKEN}}"},
            body={"a": "{{x}}"},
            save={"id": "data.id"},
        ),
        node("g", "goto_flow", flow_id="other"),
        node("o", "handoff", text="A human will help"),
        node("e", "end", text="Bye"),
    ],
    [
        edge("s", "m"),
        edge("m", "t"),
        edge("t", "q"),
        edge("q", "b"),
        edge("q", "o", "timeout"),
        edge("q", "e", "invalid"),
        edge("b", "l", "y"),
        edge("b", "q", "n"),
        edge("l", "c", "r1"),
        edge("c", "v", "true"),
        edge("c", "e", "false"),
        edge("v", "d"),
        edge("d", "h"),
        edge("h", "g", "success"),
        edge("h", "b", "error"),
    ],
)


def test_a_complete_valid_flow_has_no_problems() -> None:
    assert problems_of(FULL_FLOW) == []
    ensure_valid(FULL_FLOW)


def test_ensure_valid_raises_invalid_flow_with_every_problem_as_details() -> None:
    flow = graph([node("a", "message", text="x")], [edge("a", "zz", edge_id="e1")])

    with pytest.raises(FlowInvalid) as caught:
        ensure_valid(flow)

    error = caught.value
    assert isinstance(error, RuleViolation) and error.code == "invalid_flow"
    assert error.details == [
        {"node_id": None, "edge_id": None, "problem": "the flow has no start node"},
        {"node_id": None, "edge_id": "e1", "problem": "target node 'zz' not found"},
    ]


def test_parse_issues_are_reported() -> None:
    assert problems_of(FlowGraph.from_dicts([node("s", "start"), 5], [])) == [
        FlowProblem(problem="node #1 is not an object")
    ]


def test_exactly_one_start_missing() -> None:
    assert problems_of(graph([node("e", "end")], [])) == [FlowProblem(problem="the flow has no start node")]


def test_exactly_one_start_two() -> None:
    message = "the flow has 2 start nodes; exactly one is required"
    assert problems_of(graph([node("a", "start"), node("b", "start")], [])) == [
        FlowProblem(node_id="a", problem=message),
        FlowProblem(node_id="b", problem=message),
    ]


def test_unknown_node_type() -> None:
    assert problems_of(linear(node("x", "script"))) == [
        FlowProblem(node_id="x", problem="unknown node type 'script'")
    ]
    assert only_node("") == ["unknown node type '(none)'"]


def test_edge_to_missing_node_and_from_missing_node() -> None:
    flow = graph([node("s", "start")], [edge("s", "ghost", edge_id="e1"), edge("nobody", "s", edge_id="e2")])

    assert problems_of(flow) == [
        FlowProblem(edge_id="e1", problem="target node 'ghost' not found"),
        FlowProblem(edge_id="e2", problem="source node 'nobody' not found"),
    ]


@pytest.mark.parametrize(
    ("source", "handle", "message"),
    [
        ("m", "yes", "source handle 'yes' does not exist (valid: (default))"),
        ("b", None, "source handle (default) does not exist (valid: 'n', 'y')"),
        ("b", "maybe", "source handle 'maybe' does not exist (valid: 'n', 'y')"),
        ("l", "r9", "source handle 'r9' does not exist (valid: 'r1')"),
        ("c", None, "source handle (default) does not exist (valid: 'false', 'true')"),
        ("h", None, "source handle (default) does not exist (valid: 'error', 'success')"),
        ("q", "other", "source handle 'other' does not exist (valid: 'invalid', 'timeout', (default))"),
        ("e", None, "end nodes cannot have outgoing edges"),
        ("o", None, "handoff nodes cannot have outgoing edges"),
        ("g", None, "goto_flow nodes cannot have outgoing edges"),
    ],
)
def test_edges_must_leave_through_existing_handles(source: str, handle: str | None, message: str) -> None:
    nodes, edges = FULL_FLOW.to_dicts()
    flow = graph(nodes, [*edges, edge(source, "h", handle, edge_id="bad")])

    assert problems_of(flow) == [FlowProblem(node_id=source, edge_id="bad", problem=message)]


def test_no_fan_out_on_one_handle() -> None:
    flow = graph(
        [node("s", "start"), node("a", "end"), node("b", "end")],
        [edge("s", "a", edge_id="e1"), edge("s", "b", edge_id="e2")],
    )

    assert problems_of(flow) == [
        FlowProblem(node_id="s", edge_id="e2", problem="more than one edge leaves handle (default)")
    ]


def test_unreachable_nodes() -> None:
    flow = graph([node("s", "start"), node("a", "end"), node("lost", "message", text="x")], [edge("s", "a")])

    assert problems_of(flow) == [
        FlowProblem(node_id="lost", problem="the node is not reachable from the start node")
    ]


def test_loop_without_a_waiting_node() -> None:
    flow = graph(
        [
            node("s", "start"),
            node("a", "message", text="a"),
            node("b", "set_variable", variable="x", value="1"),
        ],
        [edge("s", "a"), edge("a", "b"), edge("b", "a")],
    )

    assert problems_of(flow) == [
        FlowProblem(node_id="a", problem="loop without a node that waits for the contact or a timer: a -> b")
    ]


def test_self_loop_through_condition_is_a_loop() -> None:
    flow = graph(
        [node("s", "start"), node("c", "condition", rules=[{"variable": "x", "operator": "exists"}])],
        [edge("s", "c"), edge("c", "c", "true")],
    )

    assert problems_of(flow) == [
        FlowProblem(node_id="c", problem="loop without a node that waits for the contact or a timer: c")
    ]


def test_loop_through_a_waiting_node_is_fine_but_a_side_loop_is_not() -> None:
    ok = graph(
        [node("s", "start"), node("d", "delay", seconds=1), node("m", "message", text="tick")],
        [edge("s", "m"), edge("m", "d"), edge("d", "m")],
    )
    assert problems_of(ok) == []

    # m -> c -> m avoids the delay even though all three share one strongly connected part
    side = graph(
        [
            node("s", "start"),
            node("d", "delay", seconds=1),
            node("m", "message", text="tick"),
            node("c", "condition", rules=[{"variable": "x", "operator": "exists"}]),
        ],
        [edge("s", "m"), edge("m", "c"), edge("c", "m", "true"), edge("c", "d", "false"), edge("d", "m")],
    )
    assert [p.problem for p in problems_of(side)] == [
        "loop without a node that waits for the contact or a timer: m -> c"
    ]


def test_goto_flow_needs_flow_id() -> None:
    assert only_node("goto_flow") == ["'flow_id' is required"]


def test_secret_refs_only_in_http_request() -> None:
    assert only_node("message", text="key {{secret:API}}") == [
        "{{secret:...}} references are only allowed in http_request nodes"
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'text' is required"]),
        ({"text": "   "}, ["'text' is required"]),
        ({"text": 5}, ["'text' must be a string"]),
        ({"text": "x" * 4097}, ["'text' must be at most 4096 characters"]),
        ({"text": "x" * 4096}, []),
        ({"media_url": "https://x.io/a.png"}, []),
        ({"media_url": "ftp://x.io/a.png", "text": "hi"}, ["'media_url' must be an http:// or https:// URL"]),
        ({"media_url": "https://x.io/a.png", "text": "x" * 1025}, ["'text' must be at most 1024 characters"]),
        ({"media_id": "1479537139650973", "media_type": "video"}, []),
        ({"media_id": "1479537139650973", "media_type": "document", "filename": "menu.pdf", "text": "Menu"}, []),
        ({"media_id": "abc"}, ["'media_id' must be the numeric media id an upload returned"]),
        ({"media_id": "1", "media_url": "https://x.io/a.png"}, ["give either 'media_url' or 'media_id', not both"]),
        ({"media_id": "1", "media_type": "gif"}, ["'media_type' must be one of image, video, document, audio"]),
        ({"media_id": "1", "media_type": "audio", "text": "hi"},
         ["an audio message takes no 'text' (send the text in its own message node)"]),
        ({"media_id": "1", "filename": "a.png"}, ["'filename' applies to documents only"]),
    ],
)
def test_message_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("message", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'name' is required", "'language' is required"]),
        ({"name": "Welcome", "language": "en"}, ["'name' must be 1 to 512 lower-case letters, digits or _"]),
        ({"name": "a" * 513, "language": "en"}, ["'name' must be 1 to 512 lower-case letters, digits or _"]),
        ({"name": "a" * 512, "language": "en", "parameters": ["x", 1]}, []),
        ({"name": "ok", "language": "en", "parameters": "x"}, ["'parameters' must be a list"]),
        (
            {"name": "ok", "language": "en", "parameters": [""]},
            ["'parameters[0]' must be a non-empty string"],
        ),
    ],
)
def test_template_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("template", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'text' is required", "'variable' is required"]),
        ({"text": "Q", "variable": "1bad"}, ["'variable' is not a valid variable name: '1bad'"]),
        ({"text": "Q", "variable": "contact"}, ["'variable' is not a valid variable name: 'contact'"]),
        ({"text": "Q", "variable": "endereço"}, []),
        (
            {"text": "Q", "variable": "v", "validation": "date"},
            ["'validation' must be one of: email, number, options, phone, regex, text"],
        ),
        ({"text": "Q", "variable": "v", "validation": "regex"}, ["'pattern' is required"]),
        (
            {"text": "Q", "variable": "v", "validation": "regex", "pattern": "(a"},
            ["'pattern' is not a valid regular expression"],
        ),
        ({"text": "Q", "variable": "v", "validation": {"type": "regex", "pattern": "[0-9]+"}}, []),
        (
            {"text": "Q", "variable": "v", "validation": {"type": "regex"}},
            ["'validation.pattern' is required"],
        ),
        ({"text": "Q", "variable": "v", "validation": "options"}, ["'options' is required"]),
        (
            {"text": "Q", "variable": "v", "validation": "options", "options": []},
            ["'options' must have at least 1 item"],
        ),
        (
            {
                "text": "Q",
                "variable": "v",
                "validation": "options",
                "options": ["a", {"value": "b", "label": "B"}],
            },
            [],
        ),
        (
            {"text": "Q", "variable": "v", "max_retries": 11},
            ["'max_retries' must be a whole number from 0 to 10"],
        ),
        (
            {"text": "Q", "variable": "v", "timeout_seconds": 0},
            ["'timeout_seconds' must be a whole number from 1 to 2592000"],
        ),
        (
            {"text": "Q", "variable": "v", "retry_message": "x" * 4097},
            ["'retry_message' must be at most 4096 characters"],
        ),
    ],
)
def test_question_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("question", **data) == expected


def _buttons(*titles: str) -> list[dict[str, str]]:
    return [{"id": f"b{i}", "title": t} for i, t in enumerate(titles)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'text' is required", "'buttons' is required"]),
        ({"text": "x" * 1025, "buttons": _buttons("A")}, ["'text' must be at most 1024 characters"]),
        ({"text": "Pick", "buttons": []}, ["'buttons' must have 1 to 3 items"]),
        ({"text": "Pick", "buttons": _buttons("A", "B", "C", "D")}, ["'buttons' must have 1 to 3 items"]),
        (
            {"text": "Pick", "buttons": _buttons("x" * 21)},
            ["'buttons[0].title' must be at most 20 characters"],
        ),
        (
            {"text": "Pick", "buttons": _buttons("Yes", "yes")},
            ["button titles must be unique: 'yes' appears more than once"],
        ),
        (
            {"text": "Pick", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]},
            ["button ids must be unique: 'a' appears more than once"],
        ),
        ({"text": "Pick", "buttons": [{"title": "A"}]}, ["'buttons[0].id' is required"]),
        ({"text": "Pick", "buttons": ["A"]}, ["'buttons[0]' must be an object"]),
        ({"text": "Pick", "buttons": _buttons("A"), "variable": "choice"}, []),
    ],
)
def test_buttons_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("buttons", **data) == expected


def _rows(count: int, prefix: str = "r") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "title": f"Row {prefix}{i}"} for i in range(count)]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'text' is required", "'button' is required", "'sections' is required"]),
        (
            {"text": "M", "button": "x" * 21, "sections": [{"rows": _rows(1)}]},
            ["'button' must be at most 20 characters"],
        ),
        (
            {"text": "M", "button": "B", "sections": [{"rows": _rows(11)}]},
            ["a list must have at most 10 rows in total"],
        ),
        (
            {
                "text": "M",
                "button": "B",
                "sections": [{"title": "A", "rows": _rows(6, "a")}, {"title": "B", "rows": _rows(5, "b")}],
            },
            ["a list must have at most 10 rows in total"],
        ),
        (
            {
                "text": "M",
                "button": "B",
                "sections": [{"title": "S", "rows": _rows(1, str(i))} for i in range(11)],
            },
            ["'sections' must have 1 to 10 items", "a list must have at most 10 rows in total"],
        ),
        (
            {"text": "M", "button": "B", "sections": [{"rows": _rows(1, "a")}, {"rows": _rows(1, "b")}]},
            ["'sections[0].title' is required", "'sections[1].title' is required"],
        ),
        (
            {"text": "M", "button": "B", "sections": [{"rows": [{"id": "r", "title": "x" * 25}]}]},
            ["'sections[0].rows[0].title' must be at most 24 characters"],
        ),
        (
            {
                "text": "M",
                "button": "B",
                "sections": [{"rows": [{"id": "r", "title": "t", "description": "d" * 73}]}],
            },
            ["'sections[0].rows[0].description' must be at most 72 characters"],
        ),
        (
            {"text": "M", "button": "B", "sections": [{"title": "x" * 25, "rows": _rows(1)}]},
            ["'sections[0].title' must be at most 24 characters"],
        ),
        (
            {
                "text": "M",
                "button": "B",
                "sections": [{"title": "A", "rows": _rows(1)}, {"title": "B", "rows": _rows(1)}],
            },
            [
                "row ids must be unique: 'r0' appears more than once",
                "row titles must be unique: 'row r0' appears more than once",
            ],
        ),
        (
            {"text": "M", "button": "B", "sections": [{"rows": []}]},
            ["'sections[0].rows' must have at least 1 item"],
        ),
    ],
)
def test_list_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("list", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'rules' is required"]),
        ({"rules": []}, ["'rules' must have at least 1 item"]),
        (
            {"rules": [{"variable": "x", "operator": "like", "value": "a"}]},
            ["'rules[0].operator' must be one of: contains, equals, exists, gt, lt, not_equals, regex"],
        ),
        (
            {"rules": [{"variable": "x", "operator": "equals"}]},
            ["'rules[0].value' is required (a string or a number)"],
        ),
        ({"rules": [{"operator": "exists"}]}, ["'rules[0].variable' is required"]),
        (
            {"rules": [{"variable": "x", "operator": "regex", "value": "("}]},
            ["'rules[0].value' is not a valid regular expression"],
        ),
        (
            {"rules": [{"variable": "x", "operator": "gt", "value": 3}], "match": "some"},
            ["'match' must be 'all' or 'any'"],
        ),
    ],
)
def test_condition_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("condition", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'variable' is required"]),
        ({"variable": "x", "value": {"a": 1}}, ["'value' must be a string, a number, a boolean or null"]),
        ({"variable": "x", "value": 3}, []),
        ({"assignments": []}, ["'assignments' must have at least 1 item"]),
        (
            {"assignments": [{"variable": "a b", "value": "1"}]},
            ["'assignments[0].variable' is not a valid variable name: 'a b'"],
        ),
    ],
)
def test_set_variable_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("set_variable", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'seconds' is required"]),
        ({"seconds": 0}, ["'seconds' must be a whole number from 1 to 2592000"]),
        ({"seconds": 2592001}, ["'seconds' must be a whole number from 1 to 2592000"]),
        ({"seconds": 1.5}, ["'seconds' must be a whole number from 1 to 2592000"]),
        ({"seconds": 2592000}, []),
    ],
)
def test_delay_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("delay", **data) == expected


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, ["'method' must be one of: DELETE, GET, PATCH, POST, PUT", "'url' is required"]),
        (
            {"method": "TRACE", "url": "https://x.io"},
            ["'method' must be one of: DELETE, GET, PATCH, POST, PUT"],
        ),
        ({"method": "GET", "url": "{{base}}/x"}, ["'url' must be an http:// or https:// URL"]),
        ({"method": "GET", "url": "file:///etc/passwd"}, ["'url' must be an http:// or https:// URL"]),
        ({"method": "GET", "url": "https://x.io/{{id}}?k={{secret:KEY}}"}, []),
        (
            {"method": "GET", "url": "https://x.io", "timeout_seconds": 31},
            ["'timeout_seconds' must be a whole number from 1 to 30"],
        ),
        (
            {"method": "GET", "url": "https://x.io", "headers": {"a": 1}},
            ["'headers' must be an object whose values are strings"],
        ),
        ({"method": "GET", "url": "https://x.io", "body": 5}, ["'body' must be a string or a JSON object"]),
        (
            {"method": "GET", "url": "https://x.io", "save": {"bad name": "a.b"}},
            ["'save.bad name' is not a valid variable name: 'bad name'"],
        ),
        (
            {"method": "GET", "url": "https://x.io", "save": "a"},
            ["'save' must be an object whose values are strings"],
        ),
    ],
)
def test_http_request_data(data: dict[str, Any], expected: list[str]) -> None:
    assert only_node("http_request", **data) == expected


def test_every_problem_is_reported_at_once() -> None:
    flow = graph(
        [
            node("s", "start"),
            node("s2", "start"),
            node("b", "buttons", text="", buttons=[]),
            node("z", "zap"),
        ],
        [edge("s", "b", edge_id="e1"), edge("b", "nowhere", "x", edge_id="e2")],
    )

    assert [(p.node_id, p.edge_id) for p in problems_of(flow)] == [
        ("b", None),  # text
        ("b", None),  # buttons count
        ("z", None),  # unknown type
        ("s", None),  # two starts
        ("s2", None),
        (None, "e2"),  # target missing
        ("b", "e2"),  # handle missing
        ("z", None),  # unreachable
    ]
