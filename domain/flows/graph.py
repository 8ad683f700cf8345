"""The flow graph as the editor (React Flow) sends it: nodes and edges, immutable.

``FlowGraph.from_dicts`` accepts anything: drafts may be incomplete or oddly shaped. What it
cannot keep (an entry that is not an object, a missing or duplicate id) it drops and records in
``issues``, which ``validate_graph`` reports. Unknown keys are kept in ``extra`` so ``to_dicts``
gives back what the editor stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.flows.problems import FlowProblem

_NODE_KEYS = frozenset({"id", "type", "position", "data"})
_EDGE_KEYS = frozenset({"id", "source", "target", "sourceHandle", "targetHandle"})


def freeze(value: object) -> object:
    """Deep read-only copy of JSON-like data: mappings become mapping proxies, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: object) -> Any:
    """Inverse of ``freeze``: plain dicts and lists again (what ``json.dumps`` accepts)."""
    if isinstance(value, Mapping):
        return {str(k): thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value


def _frozen_map(value: object) -> Mapping[str, object]:
    frozen = freeze(value) if isinstance(value, Mapping) else None
    return frozen if isinstance(frozen, Mapping) else MappingProxyType({})


def _as_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _coord(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowNode:
    id: str
    type: str
    position: Position = Position()
    data: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = thaw(self.extra)
        out.update(
            id=self.id,
            type=self.type,
            position={"x": self.position.x, "y": self.position.y},
            data=thaw(self.data),
        )
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowEdge:
    id: str
    source: str
    target: str
    source_handle: str | None = None
    target_handle: str | None = None
    extra: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = thaw(self.extra)
        out.update(id=self.id, source=self.source, target=self.target)
        if self.source_handle is not None:
            out["sourceHandle"] = self.source_handle
        if self.target_handle is not None:
            out["targetHandle"] = self.target_handle
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowGraph:
    nodes: tuple[FlowNode, ...] = ()
    edges: tuple[FlowEdge, ...] = ()
    issues: tuple[FlowProblem, ...] = ()
    _by_id: Mapping[str, FlowNode] = field(init=False, repr=False, compare=False)
    _out: Mapping[str, tuple[FlowEdge, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, FlowNode] = {}
        for node in self.nodes:
            by_id.setdefault(node.id, node)
        out: dict[str, list[FlowEdge]] = {}
        for edge in self.edges:
            out.setdefault(edge.source, []).append(edge)
        object.__setattr__(self, "_by_id", MappingProxyType(by_id))
        object.__setattr__(self, "_out", MappingProxyType({k: tuple(v) for k, v in out.items()}))

    def node(self, node_id: str | None) -> FlowNode | None:
        return self._by_id.get(node_id) if node_id is not None else None

    def start_nodes(self) -> tuple[FlowNode, ...]:
        return tuple(n for n in self.nodes if n.type == "start")

    def outgoing(self, node_id: str) -> tuple[FlowEdge, ...]:
        return self._out.get(node_id, ())

    def edge_for(self, node_id: str, handle: str | None) -> FlowEdge | None:
        """The first edge leaving ``node_id`` through ``handle`` (None = the default handle)."""
        return next((e for e in self.outgoing(node_id) if e.source_handle == handle), None)

    def to_dicts(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return [n.to_dict() for n in self.nodes], [e.to_dict() for e in self.edges]

    @classmethod
    def from_dicts(cls, nodes: object, edges: object) -> FlowGraph:
        """Parse editor JSON; never raises. Entries it cannot keep are recorded in ``issues``."""
        issues: list[FlowProblem] = []
        parsed_nodes = _parse_nodes(nodes, issues)
        parsed_edges = _parse_edges(edges, issues)
        return cls(nodes=tuple(parsed_nodes), edges=tuple(parsed_edges), issues=tuple(issues))


def _entries(value: object, what: str, issues: list[FlowProblem]) -> Sequence[object]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return value
    issues.append(FlowProblem(problem=f"'{what}' must be a list"))
    return ()


def _parse_nodes(raw: object, issues: list[FlowProblem]) -> list[FlowNode]:
    nodes: list[FlowNode] = []
    seen: set[str] = set()
    for index, entry in enumerate(_entries(raw, "nodes", issues)):
        if not isinstance(entry, Mapping):
            issues.append(FlowProblem(problem=f"node #{index} is not an object"))
            continue
        node_id = _as_id(entry.get("id"))
        if node_id is None:
            issues.append(FlowProblem(problem=f"node #{index} has no id"))
            continue
        if node_id in seen:
            issues.append(FlowProblem(node_id=node_id, problem=f"duplicate node id (node #{index} dropped)"))
            continue
        seen.add(node_id)
        try:
            data = _frozen_map(entry.get("data"))
            extra = _frozen_map({k: v for k, v in entry.items() if k not in _NODE_KEYS})
        except RecursionError:
            issues.append(FlowProblem(node_id=node_id, problem="node data is nested too deeply"))
            data, extra = MappingProxyType({}), MappingProxyType({})
        raw_type, raw_pos = entry.get("type"), entry.get("position")
        pos = raw_pos if isinstance(raw_pos, Mapping) else {}
        nodes.append(
            FlowNode(
                id=node_id,
                type=raw_type if isinstance(raw_type, str) else "",
                position=Position(x=_coord(pos.get("x")), y=_coord(pos.get("y"))),
                data=data,
                extra=extra,
            )
        )
    return nodes


def _parse_edges(raw: object, issues: list[FlowProblem]) -> list[FlowEdge]:
    edges: list[FlowEdge] = []
    seen: set[str] = set()
    for index, entry in enumerate(_entries(raw, "edges", issues)):
        if not isinstance(entry, Mapping):
            issues.append(FlowProblem(problem=f"edge #{index} is not an object"))
            continue
        edge_id = _as_id(entry.get("id"))
        if edge_id is None:
            issues.append(FlowProblem(problem=f"edge #{index} has no id"))
            continue
        if edge_id in seen:
            issues.append(FlowProblem(edge_id=edge_id, problem=f"duplicate edge id (edge #{index} dropped)"))
            continue
        seen.add(edge_id)
        try:
            extra = _frozen_map({k: v for k, v in entry.items() if k not in _EDGE_KEYS})
        except RecursionError:
            extra = MappingProxyType({})
        edges.append(
            FlowEdge(
                id=edge_id,
                source=_as_id(entry.get("source")) or "",
                target=_as_id(entry.get("target")) or "",
                source_handle=_as_id(entry.get("sourceHandle")),
                target_handle=_as_id(entry.get("targetHandle")),
                extra=extra,
            )
        )
    return edges
