"""The parts of an ``http_request`` call after interpolation: text that keeps its secret references apart.

A flow's author writes ``{{secret:KEY}}`` in the URL, headers or body of an http_request node. When the engine
reaches the node it substitutes the variables (contact answers, attributes, saved responses) and keeps every
author-written string as a ``Template``: a sequence of text segments and ``SecretRef`` segments. A secret
reference can only come from the author's own text, found before anything is substituted; substituted text is
plain data and is never read again, so a contact who types ``x{`` and then ``{secret:KEY}}`` sends those
characters, not the secret. The worker resolves the ``SecretRef`` segments from the vault and joins.

A JSON body is a tree (``JsonObject``/``JsonArray``) whose strings, keys included, are templates; a body that is
a ``Template`` itself is sent as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SecretRef:
    key: str


Segment = str | SecretRef


@dataclass(frozen=True, slots=True)
class Template:
    segments: tuple[Segment, ...] = ()

    @classmethod
    def of(cls, segments: Iterable[Segment]) -> Template:
        """Adjacent texts are merged and empty ones dropped, so equal texts make equal templates."""
        merged: list[Segment] = []
        for segment in segments:
            if isinstance(segment, str):
                if not segment:
                    continue
                if merged and isinstance(merged[-1], str):
                    merged[-1] += segment
                    continue
            merged.append(segment)
        return cls(tuple(merged))

    @property
    def secret_keys(self) -> frozenset[str]:
        return frozenset(s.key for s in self.segments if isinstance(s, SecretRef))

    def render(self, secrets: Mapping[str, str]) -> str:
        """The text with each reference replaced by its value (KeyError when one is missing)."""
        return "".join(s if isinstance(s, str) else secrets[s.key] for s in self.segments)

    def display(self) -> str:
        """The text with references shown as ``{{secret:KEY}}`` (the simulator's transcript): no value."""
        return "".join(s if isinstance(s, str) else f"{{{{secret:{s.key}}}}}" for s in self.segments)


@dataclass(frozen=True, slots=True)
class JsonObject:
    items: tuple[tuple[Template, BodyValue], ...] = ()


@dataclass(frozen=True, slots=True)
class JsonArray:
    items: tuple[BodyValue, ...] = ()


BodyValue = Template | JsonObject | JsonArray | bool | int | float | None


def body_secret_keys(value: BodyValue) -> frozenset[str]:
    match value:
        case Template():
            return value.secret_keys
        case JsonObject():
            return frozenset().union(*(k.secret_keys | body_secret_keys(v) for k, v in value.items))
        case JsonArray():
            return frozenset().union(*(body_secret_keys(v) for v in value.items))
    return frozenset()


def render_body(value: BodyValue, secrets: Mapping[str, str]) -> object:
    """Plain JSON (str/dict/list/scalars) with the references replaced by their values."""
    match value:
        case Template():
            return value.render(secrets)
        case JsonObject():
            return {k.render(secrets): render_body(v, secrets) for k, v in value.items}
        case JsonArray():
            return [render_body(v, secrets) for v in value.items]
    return value
