"""Value objects of the vault: keys, services, values and the never-shown plaintext."""

from __future__ import annotations

import copy
import logging
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import Conflict, DomainError, InvalidValue, NotFound
from domain.vault import (
    MAX_VALUE_LENGTH,
    InvalidSecretKey,
    InvalidSecretService,
    InvalidSecretValue,
    MasterKeyMissing,
    RotationInProgress,
    SecretAlreadyExists,
    SecretDecryptionFailed,
    SecretEnvironment,
    SecretInactive,
    SecretKey,
    SecretNotFound,
    SecretService,
    SecretStatus,
    SecretValue,
)

KEY_PATTERN = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
SERVICE_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,63}"
MARKER = "EAAG-very-secret-token-123"


@given(st.from_regex(KEY_PATTERN, fullmatch=True))
def test_every_key_matching_the_pattern_is_accepted(text: str) -> None:
    assert SecretKey(text).value == text
    assert str(SecretKey(text)) == text


@pytest.mark.parametrize(
    "text",
    ["", "1abc", "-abc", ".abc", "a b", "key\n", "\nkey", "ключ", "a" * 129, "a/b", "a:b", "a$"],
)
def test_malformed_keys_are_rejected(text: str) -> None:
    with pytest.raises(InvalidSecretKey) as caught:
        SecretKey(text)
    assert caught.value.code == "invalid_secret_key"
    assert isinstance(caught.value, InvalidValue)


@given(st.text(min_size=1, max_size=140))
def test_keys_are_accepted_exactly_when_they_match(text: str) -> None:
    matches = re.fullmatch(KEY_PATTERN, text) is not None
    try:
        SecretKey(text)
    except InvalidSecretKey:
        assert not matches
    else:
        assert matches


def test_key_boundaries() -> None:
    assert SecretKey("_").value == "_"
    assert SecretKey("A" * 128).value == "A" * 128
    assert SecretKey("WHATSAPP_TOKEN.v2-prod").value == "WHATSAPP_TOKEN.v2-prod"


@given(st.from_regex(SERVICE_PATTERN, fullmatch=True))
def test_every_service_matching_the_pattern_is_accepted(text: str) -> None:
    assert SecretService(text).value == text


@pytest.mark.parametrize("text", ["", "WhatsApp", "_svc", "-svc", "svc\n", "a" * 65, "s v", "svc/x"])
def test_malformed_services_are_rejected(text: str) -> None:
    with pytest.raises(InvalidSecretService) as caught:
        SecretService(text)
    assert caught.value.code == "invalid_secret_service"


def test_service_boundaries() -> None:
    assert SecretService("0").value == "0"
    assert SecretService("a" * 64).value == "a" * 64


@given(st.text(min_size=1, max_size=200))
def test_values_round_trip_and_are_never_shown(text: str) -> None:
    value = SecretValue(text)
    assert value.reveal() == text
    assert repr(value) == "SecretValue(****)"
    assert str(value) == "SecretValue(****)"
    assert f"{value}" == "SecretValue(****)"
    assert f"{value!r}" == "SecretValue(****)"


def test_value_length_bounds() -> None:
    assert SecretValue("x").reveal() == "x"
    assert SecretValue("x" * MAX_VALUE_LENGTH).reveal() == "x" * MAX_VALUE_LENGTH
    assert SecretValue("😀" * MAX_VALUE_LENGTH).reveal() == "😀" * MAX_VALUE_LENGTH  # characters, not bytes
    for bad in ["", "x" * (MAX_VALUE_LENGTH + 1)]:
        with pytest.raises(InvalidSecretValue) as caught:
            SecretValue(bad)
        assert caught.value.code == "invalid_secret_value"


def test_lone_surrogates_are_rejected_without_echoing_the_value() -> None:
    with pytest.raises(InvalidSecretValue) as caught:
        SecretValue(MARKER + "\ud800")
    assert MARKER not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_value_is_not_shown_in_containers_logs_or_copies(caplog: pytest.LogCaptureFixture) -> None:
    value = SecretValue(MARKER)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("value is %s / %r", value, value)
    assert MARKER not in caplog.text
    assert MARKER not in repr([value]) + repr({"v": value}) + str((value,))
    assert copy.deepcopy(value).reveal() == MARKER


def test_values_compare_by_content_and_are_unhashable() -> None:
    assert SecretValue("abc") == SecretValue("abc")
    assert SecretValue("abc") != SecretValue("abd")
    assert SecretValue("abc") != "abc"
    with pytest.raises(TypeError):
        hash(SecretValue("abc"))


def test_value_objects_are_immutable() -> None:
    value = SecretValue(MARKER)
    with pytest.raises(AttributeError):
        value._plaintext = "other"  # type: ignore[misc]
    key = SecretKey("K")
    with pytest.raises(AttributeError):
        key.value = "J"  # type: ignore[misc]


def test_enums_parse_their_wire_values() -> None:
    assert [e.value for e in SecretEnvironment] == ["development", "staging", "production"]
    assert [s.value for s in SecretStatus] == ["active", "inactive", "rotated"]
    assert SecretEnvironment("production") is SecretEnvironment.PRODUCTION
    with pytest.raises(ValueError):
        SecretEnvironment("prod")


@pytest.mark.parametrize(
    ("error", "category", "code"),
    [
        (SecretNotFound, NotFound, "secret_not_found"),
        (SecretAlreadyExists, Conflict, "secret_already_exists"),
        (SecretInactive, Conflict, "secret_inactive"),
        (RotationInProgress, Conflict, "rotation_in_progress"),
        (SecretDecryptionFailed, DomainError, "secret_decrypt_failed"),
        (MasterKeyMissing, DomainError, "vault_sealed"),
        (InvalidSecretValue, InvalidValue, "invalid_secret_value"),
    ],
)
def test_error_categories_and_codes(error: type[DomainError], category: type[DomainError], code: str) -> None:
    raised = error()
    assert isinstance(raised, category)
    assert raised.code == code
    assert raised.message


def test_integrity_errors_are_not_client_errors() -> None:
    """Decrypt failures and a sealed vault map to 5xx: they are none of the 4xx categories."""
    for error in (SecretDecryptionFailed(), MasterKeyMissing()):
        assert not isinstance(error, InvalidValue | NotFound | Conflict)
