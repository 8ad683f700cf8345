"""Small helpers to write flow graphs and drive the engine in tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.flows import (
    Advance,
    ContactInfo,
    ContactReplied,
    Event,
    ExecutionState,
    FlowGraph,
    Started,
    advance,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CONTACT = ContactInfo(
    whatsapp_id="5511999990000", name="Ana", email="ana@example.com", attributes={"plan": "gold", "vip": True}
)


def node(node_id: str, node_type: str, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "position": {"x": 0, "y": 0}, "data": data}


def edge(
    source: str, target: str, handle: str | None = None, *, edge_id: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": edge_id or f"{source}-{handle or 'next'}-{target}",
        "source": source,
        "target": target,
    }
    if handle is not None:
        out["sourceHandle"] = handle
    return out


def graph(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> FlowGraph:
    return FlowGraph.from_dicts(nodes, edges)


def linear(*nodes: dict[str, Any]) -> FlowGraph:
    """A start node followed by ``nodes`` joined by default edges."""
    all_nodes = [node("start", "start"), *nodes]
    edges = [edge(a["id"], b["id"]) for a, b in zip(all_nodes, all_nodes[1:], strict=False)]
    return graph(all_nodes, edges)


def start(flow: FlowGraph, variables: Mapping[str, object] | None = None, **kwargs: Any) -> Advance:
    return advance(flow, ExecutionState(), Started(contact=CONTACT, variables=variables or {}), NOW, **kwargs)


def reply(
    text: str | None = None, reply_id: str | None = None, message_id: str = "wamid.1"
) -> ContactReplied:
    return ContactReplied(message_id=message_id, text=text, reply_id=reply_id)


def step(flow: FlowGraph, state: ExecutionState, event: Event, now: datetime = NOW) -> Advance:
    return advance(flow, state, event, now)
