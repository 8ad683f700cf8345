"""One problem found in a flow graph (the unit of the ``invalid_flow`` error details)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowProblem:
    """A problem tied to a node, an edge, both, or the whole graph (both ``None``)."""

    node_id: str | None = None
    edge_id: str | None = None
    problem: str

    def to_dict(self) -> dict[str, str | None]:
        return {"node_id": self.node_id, "edge_id": self.edge_id, "problem": self.problem}
