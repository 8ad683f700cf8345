"""Every list page rendered from the items' attributes is byte for byte what pydantic renders (validated from the
same attributes): generated pages of every list model the routes serve."""

from __future__ import annotations

import types
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routers import automations, contacts, flows, secrets, users, whatsapp

pytestmark = pytest.mark.unit

RENDERERS = [automations._AUTOMATION_LIST, automations._RECIPIENT_LIST, contacts._CONTACT_LIST,
             contacts._MESSAGE_LIST, flows._FLOW_LIST, secrets._SECRET_LIST, users._USER_LIST,
             whatsapp._NUMBER_LIST]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8)
MOMENTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3)), timezone(timedelta(hours=5,
                                                                                                         minutes=30))]))


def strategy(kind: Any) -> st.SearchStrategy[Any]:
    """Values of a field's type; free JSON where the model says Any."""
    if kind is Any:
        return JSON
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), strategy(args[1]), max_size=4)
    if origin is list:
        return st.lists(strategy(args[0]), max_size=3)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(strategy(arg) for arg in args))
    if kind is datetime:
        return MOMENTS
    if kind is int:  # past 64 bits orjson refuses and pydantic renders (its own test below)
        return st.integers(-(2**63), 2**63 - 1)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return models(kind)
    return st.from_type(kind)


def models(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    return st.builds(model, **{name: strategy(field.annotation) for name, field in model.model_fields.items()})


@pytest.mark.parametrize("renderer", [r for r in RENDERERS if r.direct], ids=lambda r: r.model.__name__)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_page_renders_as_pydantic_renders_it(renderer: ListRenderer, data: st.DataObject) -> None:
    page = data.draw(st.lists(models(renderer.model), max_size=4))
    fallbacks = renderer.fallbacks
    assert renderer.render(page) == renderer.pydantic(page)
    assert renderer.fallbacks == fallbacks  # the direct rendering made those bytes, not its fallback


def test_the_hot_list_models_are_rendered_directly() -> None:
    direct = {r.model.__name__ for r in RENDERERS if r.direct}
    assert {"ContactOut", "MessageOut", "UserOut", "SecretOut", "AutomationOut", "RecipientOut"} <= direct


def test_what_orjson_cannot_render_falls_back_to_pydantic() -> None:
    class Row(BaseModel):
        n: int
        data: dict[str, Any] = {}

    renderer = ListRenderer(Row)
    assert renderer.direct
    huge = Row(n=2**70, data={"big": 10**30})  # past 64 bits: orjson refuses, pydantic renders exactly
    assert renderer.render([huge]) == renderer.pydantic([huge]) == b'[{"n":1180591620717411303424,' \
                                                                  b'"data":{"big":1000000000000000000000000000000}}]'


def test_a_model_with_a_serializer_is_left_to_pydantic() -> None:
    from pydantic import field_serializer

    class Masked(BaseModel):
        value: str

        @field_serializer("value")
        def hide(self, value: str) -> str:
            return "***"

    renderer = ListRenderer(Masked)
    assert not renderer.direct and renderer.render([Masked(value="secret")]) == b'[{"value":"***"}]'


def test_database_values_and_dict_items_are_rendered_directly() -> None:
    """asyncpg returns its own ``uuid.UUID`` subclass, which orjson takes only through its ``default``; a route
    may hand over dicts of the fields instead of objects. Neither falls back to pydantic."""
    from asyncpg.pgproto.pgproto import UUID as PgUUID

    from entrypoints.http.schemas.secrets import SecretOut

    renderer = ListRenderer(SecretOut)
    at = datetime(2026, 12, 5, 21, 0, tzinfo=UTC)
    item = {"id": PgUUID("9f4676e9-82d7-4e04-8ad0-648bdaca1db3"), "key": "WA_TOKEN", "environment": "production",
            "service": None, "status": "active", "organization_id": PgUUID("16deb6b9-174b-4e12-9f0f-36e7e5111714"),
            "created_at": at, "updated_at": at, "last_rotated_at": None}
    rendered = renderer.render([item])
    assert renderer.fallbacks == 0 and rendered == renderer.pydantic([item])
    assert b'"id":"9f4676e9-82d7-4e04-8ad0-648bdaca1db3"' in rendered and b'"created_at":"2026-12-05T21:00:00Z"' \
        in rendered


def test_a_union_with_a_model_in_it_is_left_to_pydantic() -> None:
    class Item(BaseModel):
        name: str

    class Holder(BaseModel):
        items: list[Item] | None = None
        label: str | None = None

    renderer = ListRenderer(Holder)
    holder = Holder(items=[Item(name="a")], label="x")
    assert not renderer.direct and renderer.render([holder]) == b'[{"items":[{"name":"a"}],"label":"x"}]'
