"""List pages rendered straight from domain objects: the JSON pydantic would give, without validating each item.

``TypeAdapter(list[Model]).validate_python(items, from_attributes=True)`` followed by ``dump_json`` was the
largest single cost of a cached list read after the database (profiled on ``GET /contacts?limit=50``: about a
tenth of the API's CPU per page). A :class:`ListRenderer` reads the response model's fields once and renders
each page with orjson from the items' attributes, field by field, in the model's order and under its aliases.

It takes only what it can render exactly as pydantic does (``tests/unit/entrypoints/test_rendering.py`` checks
the two agree on generated pages of every list model): plain JSON types, UUID, datetime and date, str enums,
nested models and lists of them, optional forms of these. A model with validators, serializers, computed or
excluded fields or another type is rendered by pydantic, as is a page orjson refuses (an integer past 64 bits).
"""

from __future__ import annotations

import datetime as dt
import enum
import keyword
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

_PLAIN = (str, int, bool, float, uuid.UUID, dt.datetime, dt.date, type(None))
_Render = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _value_of(kind: Any) -> _Render | None:
    """How to turn an attribute into the JSON value of a field of type ``kind``; None: not this renderer's."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return _identity
    if origin in (typing.Union, types.UnionType):  # only unions of values taken as they are (``str | None``):
        # a part that needs rendering (a model, a list of models) would need pydantic's choice of member
        return _identity if all(_value_of(arg) is _identity for arg in args) else None
    if origin is typing.Literal:
        return _identity if all(isinstance(a, (str, int, bool)) for a in args) else None
    if origin in (list, Sequence) and len(args) == 1:
        item = _value_of(args[0])
        if item is None:
            return None
        return _identity if item is _identity else lambda values: [item(v) for v in values]
    if origin is dict and len(args) == 2 and args[0] is str and _value_of(args[1]) is _identity:
        return _identity
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        plan = _plan(kind)
        return None if plan is None else lambda value: None if value is None else _render_one(plan, value)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return _identity if all(isinstance(member.value, (str, int)) for member in kind) else None
    if kind in _PLAIN:
        return _identity
    return None


def _plan(model: type[BaseModel]) -> list[tuple[str, str, _Render]] | None:
    """(JSON name, attribute, renderer) per field in the model's order, or None when pydantic must render it."""
    decorators = model.__pydantic_decorators__
    if decorators.validators or decorators.field_validators or decorators.root_validators \
            or decorators.field_serializers or decorators.model_serializers or decorators.model_validators \
            or model.model_computed_fields:
        return None
    plan = []
    for name, field in model.model_fields.items():
        if field.exclude or field.serialization_alias not in (None, field.alias):
            return None
        render = _value_of(field.annotation)
        if render is None:
            return None
        plan.append((field.alias or name, name, render))
    return plan


def _render_one(plan: list[tuple[str, str, _Render]], item: Any) -> dict[str, Any]:
    return {key: render(getattr(item, attribute)) for key, attribute, render in plan}


def _renderer(plan: list[tuple[str, str, _Render]]) -> Callable[[Any], dict[str, Any]]:
    """One item's dict, from a function written for the model (a dict display, as dataclasses write their
    ``__init__``): about four times faster than a loop over the fields. Names come from the model's fields
    (identifiers) and keys are written as repr()s."""
    if not all(attribute.isidentifier() and not keyword.iskeyword(attribute) for _, attribute, _ in plan):
        return lambda item: _render_one(plan, item)
    namespace: dict[str, Any] = {}
    by_attribute, by_key = [], []
    for index, (key, attribute, render) in enumerate(plan):
        if render is _identity:
            by_attribute.append(f"{key!r}: item.{attribute}")
            by_key.append(f"{key!r}: item[{attribute!r}]")
        else:
            namespace[f"render_{index}"] = render
            by_attribute.append(f"{key!r}: render_{index}(item.{attribute})")
            by_key.append(f"{key!r}: render_{index}(item[{attribute!r}])")
    source = (f"def one(item):\n    if type(item) is dict:\n        return {{{', '.join(by_key)}}}\n"
              f"    return {{{', '.join(by_attribute)}}}\n")  # an item is an object or a dict of its fields
    exec(source, namespace)  # noqa: S102 - names of our own models' fields
    one: Callable[[Any], dict[str, Any]] = namespace["one"]
    return one


def _subclasses(value: Any) -> Any:
    """What orjson takes only in its exact type: asyncpg returns its own ``uuid.UUID`` subclass."""
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(type(value).__name__)


class ListRenderer:
    """``render(items)``: the JSON bytes of ``list[model]`` built from objects with the model's attributes."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self._adapter: TypeAdapter[list[Any]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        self._plan = _plan(model)
        self._one = None if self._plan is None else _renderer(self._plan)
        self.fallbacks = 0
        """Pages rendered directly that had to go to pydantic after all (a test expects none for database rows)."""

    @property
    def direct(self) -> bool:
        """Whether pages are rendered from the attributes (else by pydantic, validated)."""
        return self._one is not None

    def render(self, items: Sequence[Any]) -> bytes:
        if self._one is not None:
            one = self._one
            try:
                return orjson.dumps([one(item) for item in items], default=_subclasses, option=orjson.OPT_UTC_Z)
            except (orjson.JSONEncodeError, AttributeError, KeyError):  # past orjson's range, or another shape
                self.fallbacks += 1
        return self.pydantic(items)

    def pydantic(self, items: Sequence[Any]) -> bytes:
        """The reference rendering: validated from the attributes, dumped by pydantic-core."""
        return self._adapter.dump_json(self._adapter.validate_python(items, from_attributes=True), by_alias=True)
