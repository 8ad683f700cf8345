"""VAULT_MASTER_KEYS parsing, generation and the operator's add-key step."""

from __future__ import annotations

import base64
import json
import traceback

import pytest

from adapters.vault import (
    AesGcmSecretCipher,
    MasterKeyConfigError,
    add_master_key,
    dump_master_keys,
    generate_master_key,
    parse_master_keys,
)

GOOD = base64.b64encode(b"\x01" * 32).decode()
OTHER = base64.b64encode(b"\x02" * 32).decode()


def test_parses_versions_and_keys() -> None:
    keys = parse_master_keys(json.dumps({"1": GOOD, "2": OTHER}))
    assert keys == {1: b"\x01" * 32, 2: b"\x02" * 32}
    assert AesGcmSecretCipher(keys).active_key_version == 2


def test_generated_keys_are_random_32_byte_base64() -> None:
    first, second = generate_master_key(), generate_master_key()
    assert first != second
    assert len(base64.b64decode(first, validate=True)) == 32


SHORT = base64.b64encode(b"\x07" * 31).decode()
LONG = base64.b64encode(b"\x07" * 33).decode()
NOTHING = "<no material in this case>"
NOT_B64 = "this is not base64 at all!! secret-material-xyz"


@pytest.mark.parametrize(
    ("text", "material"),
    [
        (json.dumps({"1": SHORT}), SHORT),
        (json.dumps({"1": LONG}), LONG),
        (json.dumps({"1": NOT_B64}), NOT_B64),
        (json.dumps({"one": GOOD}), GOOD),
        (json.dumps({"0": GOOD}), GOOD),
        (json.dumps({"-1": GOOD}), GOOD),
        (json.dumps({"01": GOOD}), GOOD),
        (json.dumps({GOOD: GOOD}), GOOD),
        (json.dumps({"1": 12345678}), "12345678"),
        (json.dumps({}), NOTHING),
        (json.dumps([GOOD]), GOOD),
        ('{"1": "' + GOOD + '", "1": "' + OTHER + '"}', GOOD),
        ('{"1": "' + GOOD + '"', GOOD),  # truncated JSON
        (GOOD, GOOD),  # a bare key instead of the JSON object
        ("", NOTHING),
    ],
)
def test_errors_name_the_problem_but_never_the_key(text: str, material: str) -> None:
    with pytest.raises(MasterKeyConfigError) as caught:
        parse_master_keys(text)
    message = str(caught.value)
    assert "VAULT_MASTER_KEYS" in message
    rendered = "".join(traceback.format_exception(caught.value))
    assert material not in rendered and OTHER not in rendered
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_length_error_is_clear() -> None:
    with pytest.raises(MasterKeyConfigError, match=r"version 3 must decode to exactly 32 bytes, got 31"):
        parse_master_keys(json.dumps({"1": GOOD, "3": SHORT}))


def test_add_master_key_appends_the_next_version() -> None:
    text, version = add_master_key(json.dumps({"1": GOOD, "4": OTHER}))
    keys = parse_master_keys(text)
    assert version == 5
    assert keys[1] == b"\x01" * 32 and keys[4] == b"\x02" * 32 and len(keys[5]) == 32
    assert keys[5] not in (keys[1], keys[4])


def test_add_master_key_starts_at_one_and_round_trips() -> None:
    text, version = add_master_key("  ")
    assert version == 1 and list(parse_master_keys(text)) == [1]
    keys = parse_master_keys(text)
    assert parse_master_keys(dump_master_keys(keys)) == keys


def test_add_master_key_refuses_a_broken_setting() -> None:
    with pytest.raises(MasterKeyConfigError):
        add_master_key(json.dumps({"1": SHORT}))
