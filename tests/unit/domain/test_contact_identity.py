"""Contact identity rules: Brazil's ninth digit (property tests), BSUIDs, and what a merge keeps."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import (
    Contact,
    InvalidBsuid,
    is_bsuid,
    ninth_digit_variant,
    normalize_bsuid,
    whatsapp_id_spellings,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, tzinfo=UTC)
areas = st.from_regex(r"[1-9]{2}", fullmatch=True)
mobile_locals = st.from_regex(r"[6-9][0-9]{7}", fullmatch=True)
landline_locals = st.from_regex(r"[2-5][0-9]{7}", fullmatch=True)
numbers = st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True)


@given(areas, mobile_locals)
def test_a_brazilian_mobile_has_exactly_the_other_spelling(area: str, local: str) -> None:
    with_nine, without = f"55{area}9{local}", f"55{area}{local}"
    assert ninth_digit_variant(with_nine) == without
    assert ninth_digit_variant(without) == with_nine
    assert whatsapp_id_spellings(with_nine) == (with_nine, without)


@given(numbers)
def test_the_variant_is_an_involution_and_only_brazilian_mobiles_have_one(number: str) -> None:
    variant = ninth_digit_variant(number)
    if variant is None:
        assert whatsapp_id_spellings(number) == (number,)
        return
    assert ninth_digit_variant(variant) == number and variant != number
    assert number.startswith("55") and variant.startswith("55") and number[2:4] == variant[2:4]
    assert abs(len(number) - len(variant)) == 1
    local = (number if len(number) == 12 else variant)[4:]
    assert re.fullmatch(r"[6-9][0-9]{7}", local)


@given(areas, landline_locals)
def test_landlines_have_no_variant(area: str, local: str) -> None:
    assert ninth_digit_variant(f"55{area}{local}") is None
    assert ninth_digit_variant(f"55{area}9{local}") is None  # 9 then a landline's first digit: not a mobile


@given(st.from_regex(r"(?!55)[1-9][0-9]{11,12}", fullmatch=True))
def test_other_countries_have_no_variant(number: str) -> None:
    assert ninth_digit_variant(number) is None


@pytest.mark.parametrize("number", ["550198765432", "5501987654321", "5510987654321", "55119876543210",
                                    "5511987654", "16505551234"])
def test_no_variant_for_malformed_area_codes_or_lengths(number: str) -> None:
    assert ninth_digit_variant(number) is None


@pytest.mark.parametrize("raw", ["US.13491208655302741918", "BR.ENT.1181579921", " US.1 "])
def test_bsuids_are_recognized(raw: str) -> None:
    assert is_bsuid(raw) and normalize_bsuid(raw) == raw.strip()


@pytest.mark.parametrize("raw", ["5511987654321", "+55 11 98765-4321", "us.123", "US.", ""])
def test_phone_numbers_are_not_bsuids(raw: str) -> None:
    assert not is_bsuid(raw)


@pytest.mark.parametrize("raw", ["", "US 123", "x" * 129, "US.1;DROP"])
def test_invalid_bsuids_are_refused(raw: str) -> None:
    with pytest.raises(InvalidBsuid):
        normalize_bsuid(raw)


def person(**fields: object) -> Contact:
    base: dict[str, object] = {"id": uuid4(), "organization_id": uuid4(), "whatsapp_id": "5511987654321",
                               "created_at": T0, "updated_at": T0}
    base.update(fields)
    return Contact(**base)  # type: ignore[arg-type]


def test_absorb_keeps_what_the_survivor_has_and_takes_what_it_lacks() -> None:
    survivor = person(name="Ana", tags=["VIP", "sp"], attributes={"city": "SP", "plan": "gold"})
    other = person(whatsapp_id=None, bsuid="US.1", name="Ana B", email="ana@example.com",
                   tags=["vip", "friend"], attributes={"city": "RJ", "age": 30}, opted_out=True,
                   opted_out_at=T0 - timedelta(days=1))
    later = T0 + timedelta(hours=1)
    survivor.absorb(other, later)
    assert (survivor.name, survivor.email, survivor.whatsapp_id, survivor.bsuid) == (
        "Ana", "ana@example.com", "5511987654321", "US.1")
    assert survivor.tags == ["VIP", "sp", "friend"]
    assert survivor.attributes == {"city": "SP", "plan": "gold", "age": 30}
    assert (survivor.opted_out, survivor.opted_out_at, survivor.updated_at) == (True, T0 - timedelta(days=1), later)


@given(st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), max_size=60),
       st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), max_size=60))
def test_absorbed_tags_are_a_case_insensitive_union_of_at_most_50(mine: list[str], theirs: list[str]) -> None:
    survivor = person(tags=list(dict.fromkeys(mine))[:50])
    survivor.absorb(person(tags=list(dict.fromkeys(theirs))[:50]), T0)
    assert len(survivor.tags) <= 50 and len({t.lower() for t in survivor.tags}) == len(survivor.tags)
    assert set(survivor.tags) <= set(mine) | set(theirs)
