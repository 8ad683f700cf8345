"""``{{placeholder}}`` substitution in node texts.

- ``{{name}}`` / ``{{ name }}``: an execution variable; dotted paths walk into saved objects
  (``{{order.items.0.sku}}``); a key that itself contains dots is tried first.
- ``{{contact.name}}``, ``{{contact.whatsapp_id}}``, ``{{contact.email}}``, ``{{contact.attributes.x}}``.
- Anything missing renders as "".
- ``{{secret:KEY}}`` is left exactly as written by ``interpolate``. Only http_request nodes use secrets:
  ``interpolate_template`` finds the author's references *before* substituting anything and keeps them
  apart as ``SecretRef`` segments (``templates.py``), so text that comes out of a substitution (a contact
  typing ``x{`` and then ``{secret:API_KEY}}``) is data and can never become a reference.
- Substituted values are never interpolated again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from domain.flows.state import ContactInfo
from domain.flows.templates import BodyValue, JsonArray, JsonObject, SecretRef, Segment, Template
from domain.flows.values import lookup, to_text

SECRET_KEY = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SECRET_REF = re.compile(r"\{\{\s*secret:\s*(" + SECRET_KEY + r")\s*\}\}")
_SECRET_OPENING = re.compile(r"\{\{(?=\s*secret:)")


def has_secret_ref(text: str) -> bool:
    return _SECRET_OPENING.search(text) is not None


def resolve(name: str, variables: Mapping[str, object], contact: ContactInfo | None) -> object | None:
    """The value a placeholder name stands for, or None."""
    name = name.strip()
    if name.startswith("contact."):
        return _contact_field(name.removeprefix("contact."), contact)
    if name in variables:
        return variables[name]
    return lookup(variables, [part.strip() for part in name.split(".")])


def _contact_field(name: str, contact: ContactInfo | None) -> object | None:
    if contact is None:
        return None
    if name == "name":
        return contact.name
    if name == "whatsapp_id":
        return contact.whatsapp_id
    if name == "email":
        return contact.email
    if name.startswith("attributes."):
        return lookup(contact.attributes, name.removeprefix("attributes.").split("."))
    return None


def interpolate(
    template: str,
    variables: Mapping[str, object],
    contact: ContactInfo | None = None,
    *,
    encode: Callable[[str], str] | None = None,
) -> str:
    """Replace every placeholder; ``encode`` (e.g. URL quoting) is applied to substituted values only."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("secret:"):
            return match.group(0)
        value = to_text(resolve(name, variables, contact))
        return encode(value) if encode else value

    return _PLACEHOLDER.sub(substitute, template)


def interpolate_template(
    template: str,
    variables: Mapping[str, object],
    contact: ContactInfo | None = None,
    *,
    encode: Callable[[str], str] | None = None,
) -> Template:
    """Like ``interpolate``, but the author's ``{{secret:KEY}}`` references become ``SecretRef`` segments.

    References are recognised in ``template`` alone, in one pass that also substitutes the variables; a
    substituted value is appended as text and never scanned again."""
    segments: list[Segment] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        segments.append(template[position:match.start()])
        position = match.end()
        secret = _SECRET_REF.fullmatch(match.group(0))
        if secret is not None:
            segments.append(SecretRef(secret.group(1)))
        elif match.group(1).startswith("secret:"):
            segments.append(match.group(0))  # not a valid key: kept as written, like ``interpolate`` does
        else:
            value = to_text(resolve(match.group(1), variables, contact))
            segments.append(encode(value) if encode else value)
    segments.append(template[position:])
    return Template.of(segments)


def secret_template(text: str) -> Template:
    """Author text with its secret references apart and nothing else substituted (header names)."""
    segments: list[Segment] = []
    position = 0
    for match in _SECRET_REF.finditer(text):
        segments += [text[position:match.start()], SecretRef(match.group(1))]
        position = match.end()
    segments.append(text[position:])
    return Template.of(segments)


def interpolate_json(value: object, variables: Mapping[str, object], contact: ContactInfo | None) -> BodyValue:
    """A JSON body whose strings (keys included) become templates; numbers, booleans and null stay."""
    if isinstance(value, str):
        return interpolate_template(value, variables, contact)
    if isinstance(value, Mapping):
        return JsonObject(tuple((interpolate_template(str(k), variables, contact),
                                 interpolate_json(v, variables, contact)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return JsonArray(tuple(interpolate_json(v, variables, contact) for v in value))
    if value is None or isinstance(value, bool | int | float):
        return value
    return Template.of([str(value)])


def interpolate_deep(value: object, variables: Mapping[str, object], contact: ContactInfo | None) -> object:
    """Interpolate every string inside a JSON-like value (keys included); returns plain dicts/lists."""
    if isinstance(value, str):
        return interpolate(value, variables, contact)
    if isinstance(value, Mapping):
        return {
            interpolate(str(k), variables, contact): interpolate_deep(v, variables, contact)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [interpolate_deep(v, variables, contact) for v in value]
    return value
