from __future__ import annotations

import pytest

from domain.flows import ContactInfo, interpolate
from domain.flows.interpolation import interpolate_deep, interpolate_json, interpolate_template, secret_template
from domain.flows.templates import JsonArray, JsonObject, SecretRef, Template, body_secret_keys, render_body

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
    assert interpolate_template(template, VARIABLES, CONTACT) == Template(
        ("Bearer ", SecretRef("API_TOKEN"), " ", SecretRef("other.key-2"), " for Bia")
    )


def test_malformed_secret_keys_are_plain_text() -> None:
    template = "{{secret:}} {{secret:9bad}} {{secret:a b}} {{secrets:X}} {{secret:ok}}"

    assert interpolate_template(template, {}, None).secret_keys == {"ok"}
    shown = interpolate_template(template, {}, None).display()
    assert shown == "{{secret:}} {{secret:9bad}} {{secret:a b}}  {{secret:ok}}"
    assert secret_template(template).secret_keys == {"ok"}


def test_a_value_is_data_and_never_a_secret_reference() -> None:
    variables = {"name": "{{secret:API_TOKEN}}", "a": "x{", "b": "{secret:API_TOKEN}}"}

    assert interpolate("name={{name}}", variables, None) == "name={{secret:API_TOKEN}}"
    joined = interpolate_template("{{name}}|{{a}}{{b}}", variables, None)
    assert joined == Template(("{{secret:API_TOKEN}}|x{{secret:API_TOKEN}}",)) and joined.secret_keys == set()


def test_header_names_keep_their_text_and_secret_references() -> None:
    assert secret_template("X-{{name}}-{{secret:K}}") == Template(("X-{{name}}-", SecretRef("K")))


def test_json_bodies_become_templates_and_render_back() -> None:
    body = {"who": "{{name}}", "n": [1, 2.5, True, None], "{{secret:K}}": "x{{secret:V}}"}

    tree = interpolate_json(body, VARIABLES, CONTACT)
    assert tree == JsonObject((
        (Template(("who",)), Template(("Bia",))),
        (Template(("n",)), JsonArray((1, 2.5, True, None))),
        (Template((SecretRef("K"),)), Template(("x", SecretRef("V")))),
    ))
    assert body_secret_keys(tree) == {"K", "V"}
    assert render_body(tree, {"K": "k", "V": "v"}) == {"who": "Bia", "n": [1, 2.5, True, None], "k": "xv"}


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
