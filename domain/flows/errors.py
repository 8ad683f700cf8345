"""Errors of the flow domain."""

from __future__ import annotations

from collections.abc import Iterable

from domain.errors import RuleViolation
from domain.flows.problems import FlowProblem


class FlowInvalid(RuleViolation):
    """The graph cannot be published; ``details`` lists every problem as {node_id, edge_id, problem}."""

    code = "invalid_flow"
    default_message = "The flow graph is not valid."

    def __init__(self, problems: Iterable[FlowProblem], message: str | None = None) -> None:
        self.problems: tuple[FlowProblem, ...] = tuple(problems)
        count = len(self.problems)
        super().__init__(
            message or f"The flow graph is not valid ({count} problem{'s' if count != 1 else ''}).",
            details=[p.to_dict() for p in self.problems],
        )
