"""Publishing rules for a flow graph: ``validate_graph`` lists every problem at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from domain.flows.errors import FlowInvalid
from domain.flows.graph import FlowGraph, FlowNode
from domain.flows.interpolation import has_secret_ref
from domain.flows.nodes import TERMINAL_TYPES, WAITING_TYPES, NodeSpec, handles_of
from domain.flows.parsing import parse_node
from domain.flows.problems import FlowProblem

DEFAULT_HANDLE_LABEL = "(default)"
SECRET_OUTSIDE_HTTP = "{{secret:...}} references are only allowed in http_request nodes"


def ensure_valid(graph: FlowGraph) -> None:
    """Raise ``FlowInvalid`` carrying every problem, if there is any."""
    problems = validate_graph(graph)
    if problems:
        raise FlowInvalid(problems)


def validate_graph(graph: FlowGraph) -> list[FlowProblem]:
    problems = list(graph.issues)
    specs: dict[str, NodeSpec] = {}
    for node in graph.nodes:
        parsed = parse_node(node)
        problems.extend(FlowProblem(node_id=node.id, problem=p) for p in parsed.problems)
        if parsed.spec is not None:
            specs[node.id] = parsed.spec
        if node.type != "http_request" and any(has_secret_ref(s) for s in _strings(node.data)):
            problems.append(FlowProblem(node_id=node.id, problem=SECRET_OUTSIDE_HTTP))
    problems.extend(_start_problems(graph))
    problems.extend(_edge_problems(graph, specs))
    problems.extend(_reachability_problems(graph))
    problems.extend(_loop_problems(graph))
    return problems


def _strings(value: object) -> Iterator[str]:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, Mapping):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)


def _start_problems(graph: FlowGraph) -> list[FlowProblem]:
    starts = graph.start_nodes()
    if not starts:
        return [FlowProblem(problem="the flow has no start node")]
    if len(starts) == 1:
        return []
    message = f"the flow has {len(starts)} start nodes; exactly one is required"
    return [FlowProblem(node_id=node.id, problem=message) for node in starts]


def _label(handle: str | None) -> str:
    return DEFAULT_HANDLE_LABEL if handle is None else f"'{handle}'"


def _edge_problems(graph: FlowGraph, specs: Mapping[str, NodeSpec]) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    used: set[tuple[str, str | None]] = set()
    for edge in graph.edges:
        source, target = graph.node(edge.source), graph.node(edge.target)
        if source is None:
            problems.append(FlowProblem(edge_id=edge.id, problem=f"source node '{edge.source}' not found"))
        if target is None:
            problems.append(FlowProblem(edge_id=edge.id, problem=f"target node '{edge.target}' not found"))
        if source is None or source.id not in specs:
            continue
        handles = handles_of(specs[source.id])
        if source.type in TERMINAL_TYPES:
            message = f"{source.type} nodes cannot have outgoing edges"
        elif edge.source_handle not in handles:
            valid = ", ".join(sorted(_label(h) for h in handles)) or "none"
            message = f"source handle {_label(edge.source_handle)} does not exist (valid: {valid})"
        elif (source.id, edge.source_handle) in used:
            message = f"more than one edge leaves handle {_label(edge.source_handle)}"
        else:
            used.add((source.id, edge.source_handle))
            continue
        problems.append(FlowProblem(node_id=source.id, edge_id=edge.id, problem=message))
    return problems


def _successors(graph: FlowGraph, node_id: str) -> list[str]:
    return [e.target for e in graph.outgoing(node_id) if graph.node(e.target) is not None]


def _reachability_problems(graph: FlowGraph) -> list[FlowProblem]:
    starts = graph.start_nodes()
    if not starts:
        return []
    seen = {node.id for node in starts}
    stack = list(seen)
    while stack:
        for target in _successors(graph, stack.pop()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return [
        FlowProblem(node_id=node.id, problem="the node is not reachable from the start node")
        for node in graph.nodes
        if node.id not in seen
    ]


def _loop_problems(graph: FlowGraph) -> list[FlowProblem]:
    """A cycle made only of nodes that do not wait would spin: report each such strongly connected part."""
    eager = {node.id: node for node in graph.nodes if node.type not in WAITING_TYPES}
    problems = []
    for component in _strongly_connected(eager, graph):
        first = component[0]
        if len(component) == 1 and first.id not in _successors(graph, first.id):
            continue
        ids = " -> ".join(node.id for node in component)
        message = f"loop without a node that waits for the contact or a timer: {ids}"
        problems.append(FlowProblem(node_id=first.id, problem=message))
    return problems


def _strongly_connected(nodes: Mapping[str, FlowNode], graph: FlowGraph) -> list[list[FlowNode]]:
    """Tarjan's algorithm, iterative; components in graph order, their nodes in graph order."""
    order = {node_id: i for i, node_id in enumerate(nodes)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[FlowNode]] = []
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter([t for t in _successors(graph, root) if t in nodes]))]
        while work:
            node_id, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter([t for t in _successors(graph, child) if t in nodes])))
                elif child in on_stack:
                    low[node_id] = min(low[node_id], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node_id])
            if low[node_id] == index[node_id]:
                members: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node_id:
                        break
                components.append([nodes[m] for m in sorted(members, key=order.__getitem__)])
    components.sort(key=lambda c: order[c[0].id])
    return components
