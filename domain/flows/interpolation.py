"""``{{placeholder}}`` substitution in node texts.

- ``{{name}}`` / ``{{ name }}``: an execution variable; dotted paths walk into saved objects
  (``{{order.items.0.sku}}``); a key that itself contains dots is tried first.
- ``{{contact.name}}``, ``{{contact.whatsapp_id}}``, ``{{contact.email}}``, ``{{contact.attributes.x}}``.
- Anything missing renders as "".
- ``{{secret:KEY}}`` is left exactly as written: only the application resolves secrets, from the
  vault, and only inside ``CallHttp`` commands. A substituted *value* can never smuggle a secret
  reference in (a contact typing ``{{secret:API_KEY}}`` as their name): such text inside a value is
  defused to ``{ {secret:...}}`` so ``find_secret_refs`` only ever sees what the flow author wrote.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from domain.flows.state import ContactInfo
from domain.flows.values import lookup, to_text

SECRET_KEY = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_SECRET_REF = re.compile(r"\{\{\s*secret:\s*(" + SECRET_KEY + r")\s*\}\}")
_SECRET_OPENING = re.compile(r"\{\{(?=\s*secret:)")


def find_secret_refs(text: str) -> set[str]:
    """The vault keys referenced as ``{{secret:KEY}}`` in ``text``."""
    return set(_SECRET_REF.findall(text))


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
        value = _SECRET_OPENING.sub("{ {", to_text(resolve(name, variables, contact)))
        return encode(value) if encode else value

    return _PLACEHOLDER.sub(substitute, template)


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
