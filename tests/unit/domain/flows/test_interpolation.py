from __future__ import annotations

import pytest

from domain.flows import ContactInfo, find_secret_refs, interpolate
from domain.flows.interpolation import interpolate_deep

from .builders import CONTACT

VARIABLES: dict[str, object] = {
    "name": "Bia",
    "age": 30,
    "price": 9.5,
    "whole": 3.0,
    "ok": True,
    "nothing": None,
    "order": {"id": "A1", "items": [{"sku": "X"}, {"sku": "Y"}]},
    "dotted.key": "direct",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{name}}!", "Hi Bia!"),
        ("Hi {{  name  }}!", "Hi Bia!"),
        ("{{age}} / {{price}} / {{whole}} / {{ok}} / [{{nothing}}]", "30 / 9.5 / 3 / true / []"),
        ("{{missing}}|{{order.nope}}|{{order.items.5.sku}}", "||"),
        ("{{order.id}} {{order.items.1.sku}}", "A1 Y"),
        ("{{order.items}}", '[{"sku":"X"},{"sku":"Y"}]'),
        ("{{dotted.key}}", "direct"),
        ("{{contact.name}} {{contact.whatsapp_id}} {{contact.email}}", "Ana 5511999990000 ana@example.com"),
        ("{{contact.attributes.plan}} {{contact.attributes.vip}} [{{contact.attributes.x}}]", "gold true []"),
        ("[{{contact.phone}}]", "[]"),
        ("no placeholders {single} {{}}", "no placeholders {single} "),
    ],
)
def test_placeholders(template: str, expected: str) -> None:
    assert interpolate(template, VARIABLES, CONTACT) == expected


def test_contact_fields_without_contact_are_empty() -> None:
    assert interpolate("[{{contact.name}}]", {}, None) == "[]"
    assert interpolate("[{{contact.email}}]", {}, ContactInfo(whatsapp_id="1")) == "[]"


def test_secret_refs_are_left_untouched() -> None:
    template = "Bearer {{secret:API_TOKEN}} {{ secret:other.key-2 }} for {{name}}"

    assert (
        interpolate(template, VARIABLES, CONTACT)
        == "Bearer {{secret:API_TOKEN}} {{ secret:other.key-2 }} for Bia"
    )
    assert find_secret_refs(template) == {"API_TOKEN", "other.key-2"}


def test_find_secret_refs_ignores_malformed_keys() -> None:
    assert find_secret_refs("{{secret:}} {{secret:9bad}} {{secret:a b}} {{secrets:X}} {{secret:ok}}") == {
        "ok"
    }


def test_a_value_cannot_inject_a_secret_reference() -> None:
    text = interpolate("name={{name}}", {"name": "{{secret:API_TOKEN}}"}, None)

    assert text == "name={ {secret:API_TOKEN}}"
    assert find_secret_refs(text) == set()


def test_values_are_not_interpolated_twice() -> None:
    assert interpolate("{{a}}", {"a": "{{b}}", "b": "no"}, None) == "{{b}}"


def test_encode_applies_to_values_only() -> None:
    text = interpolate(
        "https://x.io/q?name={{name}}&k={{secret:K}}",
        {"name": "a b&c"},
        None,
        encode=lambda v: v.replace(" ", "+"),
    )

    assert text == "https://x.io/q?name=a+b&c&k={{secret:K}}"


def test_interpolate_deep_walks_json() -> None:
    body = {"who": "{{name}}", "list": ["{{age}}", 1, None], "{{name}}": {"k": "{{secret:S}}"}}

    assert interpolate_deep(body, VARIABLES, CONTACT) == {
        "who": "Bia",
        "list": ["30", 1, None],
        "Bia": {"k": "{{secret:S}}"},
    }
