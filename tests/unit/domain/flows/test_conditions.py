from __future__ import annotations

import pytest

from domain.flows.conditions import evaluate_condition, evaluate_rule
from domain.flows.nodes import ConditionSpec, Rule

from .builders import CONTACT

VARIABLES: dict[str, object] = {
    "age": "42",
    "score": 7.5,
    "name": "Maria Silva",
    "empty": "",
    "tags": ["vip", "Late"],
    "word": "abc",
    "limit": "40",
}


@pytest.mark.parametrize(
    ("variable", "operator", "value", "expected"),
    [
        ("age", "equals", "42", True),
        ("age", "equals", 42, True),
        ("age", "equals", "42.0", True),
        ("score", "equals", "7,5", True),
        ("name", "equals", "  maria silva ", True),
        ("name", "equals", "Maria", False),
        ("missing", "equals", "", True),
        ("name", "not_equals", "Maria", True),
        ("age", "not_equals", 42, False),
        ("name", "contains", "SILVA", True),
        ("name", "contains", "souza", False),
        ("tags", "contains", "late", True),
        ("tags", "contains", "la", False),
        ("age", "contains", 4, True),
        ("name", "regex", r"^Maria\s", True),
        ("name", "regex", r"^Silva", False),
        ("name", "regex", "(", False),
        ("missing", "regex", ".*", True),
        ("age", "gt", "41.9", True),
        ("age", "gt", 42, False),
        ("age", "lt", "100", True),
        ("age", "gt", "{{limit}}", True),
        ("score", "lt", 8, True),
        ("word", "gt", 1, False),
        ("word", "lt", 1, False),
        ("missing", "gt", 0, False),
        ("age", "gt", "abc", False),
        ("age", "gt", "nan", False),
        ("age", "lt", "inf", False),
        ("age", "exists", None, True),
        ("empty", "exists", None, False),
        ("missing", "exists", None, False),
        ("contact.attributes.plan", "equals", "GOLD", True),
        ("contact.name", "exists", None, True),
        ("age", "unknown_op", "x", False),
    ],
)
def test_rule(variable: str, operator: str, value: object, expected: bool) -> None:
    assert (
        evaluate_rule(Rule(variable=variable, operator=operator, value=value), VARIABLES, CONTACT) is expected
    )


def test_match_all_and_any() -> None:
    rules = (
        Rule(variable="age", operator="gt", value=18),
        Rule(variable="name", operator="contains", value="zzz"),
    )

    assert evaluate_condition(ConditionSpec(rules=rules, match="all"), VARIABLES, CONTACT) is False
    assert evaluate_condition(ConditionSpec(rules=rules, match="any"), VARIABLES, CONTACT) is True
