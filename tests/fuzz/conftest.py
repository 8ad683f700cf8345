"""One test id per API operation."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """pytest >= 9.2 builds an item's id from its original name and parametrization, and schemathesis (4.32) gives
    its per-operation items neither, so they all share one id: `-k`, the progress of `make fuzz` and the failure
    summary could not tell operations apart. Each gets its operation back, `test_...[GET /api/v1/users]`."""
    for item in items:
        label = getattr(item, "operation_label", None)
        node_id = getattr(item, "_id", None)
        if label and node_id is not None and getattr(node_id, "params", "") is None:
            item._id = node_id.with_params(label)
