"""WhatsApp ids, tags and opt-out of contacts (SPEC.md, "Contacts")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.contacts import (
    MAX_TAGS,
    Contact,
    InvalidTag,
    InvalidWhatsAppId,
    normalize_tags,
    normalize_whatsapp_id,
)
from domain.errors import InvalidValue

T0 = datetime(2026, 1, 1, tzinfo=UTC)

digit_strings = st.from_regex(r"[1-9][0-9]{7,14}", fullmatch=True)  # E.164: no leading zero
separators = st.text(" -", max_size=3)


@st.composite
def formatted_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """(digits, the same digits as a person might type them: '+', spaces and dashes anywhere after it)."""
    digits = draw(digit_strings)
    parts = [draw(separators) + d for d in digits]
    plus = draw(st.sampled_from(["", "+"]))
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return digits, padding + plus + "".join(parts) + draw(separators) + padding


class TestNormalizeWhatsAppId:
    @given(formatted_numbers())
    def test_formatted_input_normalizes_to_its_digits(self, case: tuple[str, str]) -> None:
        digits, typed = case
        assert normalize_whatsapp_id(typed) == digits

    @given(digit_strings)
    def test_digits_are_a_fixed_point(self, digits: str) -> None:
        assert normalize_whatsapp_id(normalize_whatsapp_id(digits)) == digits

    @pytest.mark.parametrize(("typed", "expected"), [
        ("+55 11 9-8765-4321", "5511987654321"),
        ("5511987654321", "5511987654321"),
        ("12345678", "12345678"),
        ("123456789012345", "123456789012345"),
        ("  +1 415-555-2671  ", "14155552671"),
    ])
    def test_examples(self, typed: str, expected: str) -> None:
        assert normalize_whatsapp_id(typed) == expected

    @pytest.mark.parametrize("junk", [
        "", "+", "1234567", "+123 4567", "1234567890123456", "+1234567890123456",
        "(11) 98765-4321", "55.11.98765.4321", "5511a87654321", "abcdefghij", "55+11987654321",
        "++5511987654321", "+-+5511987654321", "55_11_98765_4321", "5511/98765/4321", "0x5511987654321",
    ])
    def test_anything_else_is_rejected(self, junk: str) -> None:
        with pytest.raises(InvalidWhatsAppId) as raised:
            normalize_whatsapp_id(junk)
        assert isinstance(raised.value, InvalidValue)
        assert raised.value.code == "invalid_whatsapp_id"

    @given(digit_strings, st.integers(min_value=0, max_value=14),
           st.sampled_from(list("abcXYZ().,;/_#*+") + ["é"]))
    def test_a_foreign_character_anywhere_is_rejected(self, digits: str, at: int, intruder: str) -> None:
        at = min(at, len(digits) - 1) + 1  # never at position 0, where a '+' is welcome
        with pytest.raises(InvalidWhatsAppId):
            normalize_whatsapp_id(digits[:at] + intruder + digits[at:])

    def test_a_leading_zero_is_not_e164(self) -> None:
        with pytest.raises(InvalidWhatsAppId):
            normalize_whatsapp_id("0011987654321")

    @given(st.one_of(st.text("0123456789", max_size=7), st.text("0123456789", min_size=16, max_size=40)),
           st.booleans())
    def test_wrong_digit_counts_are_rejected(self, digits: str, plus: bool) -> None:
        with pytest.raises(InvalidWhatsAppId):
            normalize_whatsapp_id(("+" if plus else "") + digits)

    @pytest.mark.parametrize("non_ascii_digits", ["٥٥١١٩٨٧٦٥٤٣٢١", "５５１１９８７６５４３２１", "५५११९८७६५४३२१"])
    def test_non_ascii_digits_are_rejected(self, non_ascii_digits: str) -> None:
        with pytest.raises(InvalidWhatsAppId):
            normalize_whatsapp_id(non_ascii_digits)


class TestNormalizeTags:
    def test_trims_and_drops_case_insensitive_duplicates_keeping_the_first_spelling_and_order(self) -> None:
        assert normalize_tags([" VIP ", "lead", "vip", "Lead", "Cliente 2024", "vIp"]) == ["VIP", "lead",
                                                                                          "Cliente 2024"]

    def test_allowed_characters(self) -> None:
        tags = ["a", "São Paulo", "x.y", "k:v", "a/b", "a-b", "under_score", "9", "t" * 50]
        assert normalize_tags(tags) == tags

    @pytest.mark.parametrize("bad", ["", "   ", "-lead", ".lead", "lead!", "a" * 51, "a\tb", "#vip", "vip,lead"])
    def test_invalid_tags_are_rejected(self, bad: str) -> None:
        with pytest.raises(InvalidTag) as raised:
            normalize_tags(["ok", bad])
        assert raised.value.code == "invalid_tag"

    def test_at_most_fifty_distinct_tags(self) -> None:
        fifty = [f"tag{i}" for i in range(MAX_TAGS)]
        assert normalize_tags(fifty) == fifty
        assert normalize_tags([*fifty, "TAG0"]) == fifty  # a duplicate does not count
        with pytest.raises(InvalidTag):
            normalize_tags([*fifty, "tag50"])

    def test_empty_list(self) -> None:
        assert normalize_tags([]) == []

    @given(st.lists(st.text("abcABC", min_size=1, max_size=3), max_size=30))
    def test_result_is_unique_ignoring_case_and_keeps_first_spellings(self, tags: list[str]) -> None:
        result = normalize_tags(tags)
        assert len({t.lower() for t in result}) == len(result)
        assert {t.lower() for t in result} == {t.lower() for t in tags}
        firsts = {}
        for tag in tags:
            firsts.setdefault(tag.lower(), tag)
        assert result == list(firsts.values())


def _contact() -> Contact:
    return Contact(id=uuid4(), organization_id=uuid4(), whatsapp_id="5511987654321", created_at=T0, updated_at=T0)


class TestOptOut:
    def test_opting_out_records_when(self) -> None:
        contact = _contact()
        assert contact.opted_out is False and contact.opted_out_at is None

        contact.set_opt_out(True, T0 + timedelta(hours=1))

        assert contact.opted_out is True
        assert contact.opted_out_at == T0 + timedelta(hours=1)

    def test_opting_out_again_keeps_the_first_time(self) -> None:
        contact = _contact()
        contact.set_opt_out(True, T0 + timedelta(hours=1))
        contact.set_opt_out(True, T0 + timedelta(hours=2))
        assert contact.opted_out_at == T0 + timedelta(hours=1)

    def test_opting_back_in_clears_the_time(self) -> None:
        contact = _contact()
        contact.set_opt_out(True, T0 + timedelta(hours=1))
        contact.set_opt_out(False, T0 + timedelta(hours=2))
        assert contact.opted_out is False and contact.opted_out_at is None

        contact.set_opt_out(True, T0 + timedelta(hours=3))
        assert contact.opted_out_at == T0 + timedelta(hours=3)

    def test_opting_in_when_never_out_changes_nothing(self) -> None:
        contact = _contact()
        contact.set_opt_out(False, T0 + timedelta(hours=1))
        assert contact.opted_out is False and contact.opted_out_at is None
