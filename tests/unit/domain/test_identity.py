"""Email, the password policy and roles (SPEC.md, "Tenancy and roles" and "Auth")."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from domain.common_passwords import COMMON_PASSWORDS
from domain.errors import InvalidValue
from domain.identity import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    Email,
    InvalidEmail,
    Role,
    WeakPassword,
    check_password_policy,
)

_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_label = st.builds(
    lambda first, middle, last: first + middle + last,
    st.sampled_from(_ALNUM), st.text(_ALNUM + "-", max_size=20), st.sampled_from(_ALNUM),
) | st.sampled_from(_ALNUM)
_domains = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3),
                     st.text(_ALNUM, min_size=2, max_size=10))
valid_emails = st.builds(lambda local, domain: f"{local}@{domain}", st.text(_LOCAL_CHARS, min_size=1, max_size=64),
                         _domains)


class TestEmail:
    @given(valid_emails, st.sampled_from(["", " ", "\t", "  \n"]))
    def test_a_valid_address_round_trips_trimmed_and_lowercased(self, address: str, padding: str) -> None:
        email = Email(padding + address + padding)

        assert email.value == address.lower()
        assert str(email) == address.lower()
        assert Email(email.value) == email  # normalizing is idempotent

    @given(st.emails())
    def test_hypothesis_generated_addresses_are_accepted(self, address: str) -> None:
        assume(len(address) <= 254)
        assert Email(address).value == address.strip().lower()

    @pytest.mark.parametrize("junk", [
        "", " ", "plain", "@example.com", "ana@", "ana@@example.com", "ana@exa@mple.com", "ana @example.com",
        "ana@example", "ana@-example.com", "ana@example-.com", "ana@exa mple.com", "ana@.example.com",
        "ana@example..com", "ana@exam_ple.com", "a" * 65 + "@example.com", "ana@" + "a" * 65 + ".com",
        "ana@" + ".".join(["abcdefghi"] * 26) + ".com",  # more than 254 characters
        "ana\n@example.com", "<ana@example.com>",
    ])
    def test_junk_is_rejected(self, junk: str) -> None:
        with pytest.raises(InvalidEmail) as raised:
            Email(junk)
        assert isinstance(raised.value, InvalidValue)
        assert raised.value.code == "invalid_email"

    @given(st.text(alphabet=st.characters(blacklist_characters="@"), max_size=80))
    def test_text_without_an_at_sign_is_never_an_email(self, text: str) -> None:
        with pytest.raises(InvalidEmail):
            Email(text)

    def test_length_limits(self) -> None:
        local = "a" * 64
        longest = f"{local}@{'b' * 61}.{'b' * 61}.{'b' * 61}.com"
        assert len(longest) == 254
        assert Email(longest).value == longest
        too_long = f"{local}@{'b' * 61}.{'b' * 61}.{'b' * 62}.com"
        assert len(too_long) == 255
        with pytest.raises(InvalidEmail):
            Email(too_long)


class TestPasswordPolicy:
    def test_length_bounds(self) -> None:
        check_password_policy("x7#kQ9!m")  # 8
        check_password_policy("x7#kQ9!m" * 16)  # 128
        for bad in ("x7#kQ9!", "x7#kQ9!m" * 16 + "z"):  # 7 and 129
            with pytest.raises(WeakPassword) as raised:
                check_password_policy(bad)
            assert bad not in raised.value.message
            assert str(PASSWORD_MIN) in raised.value.message and str(PASSWORD_MAX) in raised.value.message

    def test_length_is_counted_in_characters_not_bytes(self) -> None:
        check_password_policy("ção-ção!")  # 8 characters, 12 bytes in UTF-8
        with pytest.raises(WeakPassword):
            check_password_policy("ção-çã!")  # 7 characters

    @pytest.mark.parametrize("common", ["password", "PASSWORD123", "12345678", "qwertyui", "Password1"])
    def test_common_passwords_are_rejected_whatever_the_case(self, common: str) -> None:
        assert common.lower() in COMMON_PASSWORDS
        with pytest.raises(WeakPassword) as raised:
            check_password_policy(common)
        assert raised.value.code == "weak_password"

    @given(st.sampled_from(sorted(p for p in COMMON_PASSWORDS if PASSWORD_MIN <= len(p) <= PASSWORD_MAX)))
    def test_every_listed_password_of_valid_length_is_rejected(self, common: str) -> None:
        with pytest.raises(WeakPassword):
            check_password_policy(common)

    @pytest.mark.parametrize("password", ["ana.souza@example.com", "Ana.Souza@Example.COM", "ANA.souza"])
    def test_the_email_or_its_local_part_is_rejected(self, password: str) -> None:
        with pytest.raises(WeakPassword) as raised:
            check_password_policy(password, email="Ana.Souza@example.com")
        assert password not in raised.value.message

    def test_the_email_is_fine_as_a_password_of_someone_else(self) -> None:
        check_password_policy("ana.souza@example.com", email="bruno@example.com")

    @given(st.text(max_size=200).map(lambda text: "\u2603" + text), st.booleans())
    def test_an_error_message_never_contains_the_password(self, password: str, as_email: bool) -> None:
        # The snowman appears in no message, so finding the password in one can only be an echo.
        try:
            check_password_policy(password, email=password if as_email else None)
        except WeakPassword as e:
            assert password not in e.message
            assert password not in str(e)
            assert e.details is None

    @given(st.text(min_size=PASSWORD_MIN, max_size=PASSWORD_MAX))
    def test_anything_of_valid_length_not_common_and_not_the_email_passes(self, password: str) -> None:
        import unicodedata

        normalized = unicodedata.normalize("NFC", password)
        assume(PASSWORD_MIN <= len(normalized) <= PASSWORD_MAX and normalized.lower() not in COMMON_PASSWORDS)
        check_password_policy(password, email="someone.else@example.com")


class TestRole:
    def test_order_from_most_to_least_powerful(self) -> None:
        ordered = [Role.SUPER_ADMIN, Role.ORG_ADMIN, Role.AGENT, Role.VIEWER]
        assert sorted(Role, key=lambda r: r.rank, reverse=True) == ordered
        assert [r.rank for r in ordered] == sorted((r.rank for r in ordered), reverse=True)
        assert len({r.rank for r in Role}) == 4

    @pytest.mark.parametrize("role", list(Role))
    @pytest.mark.parametrize("other", list(Role))
    def test_at_least(self, role: Role, other: Role) -> None:
        order = ["viewer", "agent", "org_admin", "super_admin"]
        assert role.at_least(other) is (order.index(role.value) >= order.index(other.value))

    def test_values_are_the_contract_strings(self) -> None:
        assert {r.value for r in Role} == {"super_admin", "org_admin", "agent", "viewer"}
        assert Role("org_admin") is Role.ORG_ADMIN
