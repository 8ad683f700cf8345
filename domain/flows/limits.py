"""How large a flow's graph may be: node and edge counts, and its size as JSON (nodes and edges together)."""

from __future__ import annotations

import json
from typing import Any

from domain.errors import InvalidValue

NODES_MAX = 500
EDGES_MAX = 1000
GRAPH_MAX_BYTES = 1024 * 1024


class FlowTooLarge(InvalidValue):
    code = "flow_too_large"
    default_message = (f"A flow has at most {NODES_MAX} nodes and {EDGES_MAX} edges, and its nodes and edges "
                       f"together at most {GRAPH_MAX_BYTES // 1024 // 1024} MiB as JSON.")


def graph_bytes(nodes: list[Any], edges: list[Any]) -> int:
    """The graph as compact UTF-8 JSON, the way its limit is counted."""
    return len(json.dumps({"nodes": nodes, "edges": edges}, ensure_ascii=False, separators=(",", ":")).encode())


def check_graph_size(nodes: list[Any], edges: list[Any]) -> None:
    if len(nodes) > NODES_MAX:
        raise FlowTooLarge(f"A flow has at most {NODES_MAX} nodes.", field="nodes")
    if len(edges) > EDGES_MAX:
        raise FlowTooLarge(f"A flow has at most {EDGES_MAX} edges.", field="edges")
    size = graph_bytes(nodes, edges)
    if size > GRAPH_MAX_BYTES:
        raise FlowTooLarge(f"The flow's nodes and edges take {size:,} bytes as JSON; at most {GRAPH_MAX_BYTES:,} "
                           "(1 MiB) are allowed.", field="nodes")
