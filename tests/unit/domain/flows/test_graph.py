from __future__ import annotations

import copy

import pytest

from domain.flows import FlowEdge, FlowGraph, FlowProblem, Position

NODES = [
    {"id": "s", "type": "start", "position": {"x": 10.5, "y": -3}, "data": {}},
    {
        "id": "b",
        "type": "buttons",
        "position": {"x": 100, "y": 50},
        "data": {"text": "Pick", "buttons": [{"id": "y", "title": "Yes"}, {"id": "n", "title": "No"}]},
        "width": 180,
        "selected": False,
    },
]
EDGES = [
    {"id": "e1", "source": "s", "target": "b"},
    {"id": "e2", "source": "b", "target": "s", "sourceHandle": "y", "targetHandle": "in", "animated": True},
]


def test_round_trip_keeps_everything_the_editor_sent() -> None:
    graph = FlowGraph.from_dicts(copy.deepcopy(NODES), copy.deepcopy(EDGES))

    nodes, edges = graph.to_dicts()

    assert nodes == NODES
    assert edges == EDGES
    assert FlowGraph.from_dicts(nodes, edges) == graph
    assert graph.issues == ()


def test_parsed_model_is_typed_and_indexed() -> None:
    graph = FlowGraph.from_dicts(NODES, EDGES)

    assert graph.node("b") is not None and graph.node("b").position == Position(x=100.0, y=50.0)  # type: ignore[union-attr]
    assert graph.node("missing") is None and graph.node(None) is None
    assert [n.id for n in graph.start_nodes()] == ["s"]
    assert graph.edge_for("b", "y") == FlowEdge(
        id="e2", source="b", target="s", source_handle="y", target_handle="in", extra={"animated": True}
    )
    assert graph.edge_for("b", "n") is None
    assert graph.edge_for("s", None) is not None


def test_graph_is_immutable_and_detached_from_input() -> None:
    nodes = copy.deepcopy(NODES)
    graph = FlowGraph.from_dicts(nodes, EDGES)
    nodes[1]["data"]["text"] = "changed"
    node = graph.node("b")
    assert node is not None
    assert node.data["text"] == "Pick"
    with pytest.raises(TypeError):
        node.data["text"] = "x"  # type: ignore[index]


@pytest.mark.parametrize(
    ("nodes", "edges", "issues"),
    [
        (None, None, []),
        (
            "nope",
            3,
            [FlowProblem(problem="'nodes' must be a list"), FlowProblem(problem="'edges' must be a list")],
        ),
        (
            [1, {"type": "start"}],
            [],
            [FlowProblem(problem="node #0 is not an object"), FlowProblem(problem="node #1 has no id")],
        ),
        (
            [{"id": "a"}, {"id": "a"}],
            [],
            [FlowProblem(node_id="a", problem="duplicate node id (node #1 dropped)")],
        ),
        (
            [],
            ["x", {"source": "a"}, {"id": "e"}, {"id": "e"}],
            [
                FlowProblem(problem="edge #0 is not an object"),
                FlowProblem(problem="edge #1 has no id"),
                FlowProblem(edge_id="e", problem="duplicate edge id (edge #3 dropped)"),
            ],
        ),
    ],
)
def test_weird_shapes_never_raise_and_are_recorded(
    nodes: object, edges: object, issues: list[FlowProblem]
) -> None:
    graph = FlowGraph.from_dicts(nodes, edges)

    assert list(graph.issues) == issues


def test_missing_fields_get_neutral_values() -> None:
    graph = FlowGraph.from_dicts(
        [{"id": 7, "type": None, "position": {"x": "a", "y": float("nan")}, "data": [1, 2]}],
        [{"id": "e", "source": None, "target": 7, "sourceHandle": ""}],
    )

    node = graph.nodes[0]
    assert (node.id, node.type, node.position, dict(node.data)) == ("7", "", Position(x=0.0, y=0.0), {})
    assert graph.edges[0] == FlowEdge(id="e", source="", target="7", source_handle=None)


def test_deeply_nested_data_is_dropped_not_fatal() -> None:
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]

    graph = FlowGraph.from_dicts([{"id": "a", "type": "message", "data": {"x": deep}}], [])

    assert graph.nodes[0].data == {}
    assert graph.issues == (FlowProblem(node_id="a", problem="node data is nested too deeply"),)
