"""Evaluating condition rules. Never raises: bad numbers or patterns simply do not match.

- ``equals`` / ``not_equals``: numerically when both sides read as numbers ("10" equals 10.0),
  otherwise as trimmed, case-insensitive text. A missing variable reads as "".
- ``contains``: case-insensitive substring; for a list variable, whether an element equals ``value``.
- ``regex``: ``re.search`` of ``value`` in the variable's text.
- ``gt`` / ``lt``: only when both sides read as numbers; otherwise false.
- ``exists``: the variable is set and not empty (``value`` is ignored).
Rule values that are strings are interpolated first (``{{other_variable}}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from domain.flows.interpolation import interpolate, resolve
from domain.flows.nodes import ConditionSpec, Rule
from domain.flows.state import ContactInfo
from domain.flows.values import to_number, to_text

MAX_MATCHED_TEXT = 4096


def evaluate_condition(
    spec: ConditionSpec, variables: Mapping[str, object], contact: ContactInfo | None
) -> bool:
    results = (evaluate_rule(rule, variables, contact) for rule in spec.rules)
    return any(results) if spec.match == "any" else all(results)


def evaluate_rule(rule: Rule, variables: Mapping[str, object], contact: ContactInfo | None) -> bool:
    left = resolve(rule.variable, variables, contact)
    right = interpolate(rule.value, variables, contact) if isinstance(rule.value, str) else rule.value
    match rule.operator:
        case "exists":
            return left is not None and to_text(left).strip() != ""
        case "equals":
            return _equals(left, right)
        case "not_equals":
            return not _equals(left, right)
        case "contains":
            if isinstance(left, list | tuple):
                return any(_equals(element, right) for element in left)
            return _fold(right) in _fold(left)
        case "regex":
            return _search(to_text(right), to_text(left))
        case "gt" | "lt":
            a, b = to_number(left), to_number(right)
            if a is None or b is None:
                return False
            return a > b if rule.operator == "gt" else a < b
        case _:
            return False


def _fold(value: object) -> str:
    return to_text(value).strip().casefold()


def _equals(left: object, right: object) -> bool:
    a, b = to_number(left), to_number(right)
    if a is not None and b is not None:
        return a == b
    return _fold(left) == _fold(right)


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text[:MAX_MATCHED_TEXT]) is not None
    except (re.error, RecursionError, OverflowError):
        return False
