"""AES-GCM envelope cipher: round trips, tamper and context binding, unknown keys, rewrap."""

from __future__ import annotations

import dataclasses
import os
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters.vault.aesgcm_cipher as module
from adapters.vault import AesGcmSecretCipher, MasterKeyConfigError
from application.ports.vault import EncryptedValue, SecretCipher
from domain.vault import MAX_VALUE_LENGTH, InvalidSecretValue, MasterKeyMissing, SecretDecryptionFailed

K1 = bytes(range(32))
K2 = bytes(range(100, 132))
ORG = UUID("11111111-1111-1111-1111-111111111111")
SECRET = UUID("22222222-2222-2222-2222-222222222222")
PLAINTEXT = "EAAG-very-secret-token-123"
CIPHER_V1 = AesGcmSecretCipher({1: K1})
BLOB = CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=3, plaintext=PLAINTEXT)
BYTE_FIELDS = ["wrapped_dek", "dek_nonce", "value_nonce", "ciphertext"]


def decrypt(cipher: SecretCipher, value: EncryptedValue, *, org: UUID = ORG, secret: UUID = SECRET,
            version: int = 3) -> str:
    return cipher.decrypt(organization_id=org, secret_id=secret, version=version, value=value)


def test_round_trip_and_shape() -> None:
    assert SecretCipher in AesGcmSecretCipher.__mro__
    assert decrypt(CIPHER_V1, BLOB) == PLAINTEXT
    assert (BLOB.kek_version, BLOB.algorithm) == (1, "A256GCM")
    assert (len(BLOB.dek_nonce), len(BLOB.value_nonce), len(BLOB.wrapped_dek)) == (12, 12, 48)
    assert len(BLOB.ciphertext) == len(PLAINTEXT.encode()) + 16
    assert PLAINTEXT.encode() not in BLOB.ciphertext


def test_the_blob_follows_the_documented_scheme() -> None:
    """Decrypt with raw primitives: HKDF info and both AADs are exactly as in VAULT_AND_AUTH.md A2."""
    version = (3).to_bytes(4, "big")
    kek = HKDF(hashes.SHA256(), 32, None, b"pytake/vault/kek/v1|" + ORG.bytes + (1).to_bytes(4, "big")).derive(K1)
    dek_aad = b"pytake/vault/dek/v1|" + ORG.bytes + SECRET.bytes + version + (1).to_bytes(4, "big")
    dek = AESGCM(kek).decrypt(BLOB.dek_nonce, BLOB.wrapped_dek, dek_aad)
    value_aad = b"pytake/vault/val/v1|" + ORG.bytes + SECRET.bytes + version
    assert AESGCM(dek).decrypt(BLOB.value_nonce, BLOB.ciphertext, value_aad).decode() == PLAINTEXT


def test_every_encryption_uses_a_fresh_data_key_and_nonces() -> None:
    again = CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=3, plaintext=PLAINTEXT)
    for name in BYTE_FIELDS:
        assert getattr(again, name) != getattr(BLOB, name)
    assert decrypt(CIPHER_V1, again) == PLAINTEXT


@settings(max_examples=300)
@given(st.data())
def test_tampering_with_any_single_byte_fails(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(BYTE_FIELDS))
    original: bytes = getattr(BLOB, name)
    position = data.draw(st.integers(0, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    tampered = bytearray(original)
    tampered[position] ^= flip
    changes: dict[str, Any] = {name: bytes(tampered)}
    with pytest.raises(SecretDecryptionFailed) as caught:
        decrypt(CIPHER_V1, dataclasses.replace(BLOB, **changes))
    assert caught.value.code == "secret_decrypt_failed"
    assert PLAINTEXT not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize("name", BYTE_FIELDS)
@pytest.mark.parametrize("change", [lambda b: b[:-1], lambda b: b + b"\x00", lambda b: b""])
def test_truncated_or_extended_fields_fail(name: str, change: Any) -> None:
    with pytest.raises(SecretDecryptionFailed):
        decrypt(CIPHER_V1, dataclasses.replace(BLOB, **{name: change(getattr(BLOB, name))}))


def test_another_algorithm_label_fails() -> None:
    with pytest.raises(SecretDecryptionFailed):
        decrypt(CIPHER_V1, dataclasses.replace(BLOB, algorithm="A128GCM"))


@pytest.mark.parametrize(
    "context",
    [{"org": uuid4()}, {"secret": uuid4()}, {"version": 2}, {"version": 4}, {"org": SECRET, "secret": ORG}],
)
def test_a_blob_used_in_another_context_fails(context: dict[str, Any]) -> None:
    with pytest.raises(SecretDecryptionFailed):
        decrypt(CIPHER_V1, BLOB, **context)


def test_a_relabelled_kek_version_fails() -> None:
    both = AesGcmSecretCipher({1: K1, 2: K2})
    with pytest.raises(SecretDecryptionFailed):
        decrypt(both, dataclasses.replace(BLOB, kek_version=2))


def test_unknown_kek_version_means_the_vault_is_sealed() -> None:
    only_new = AesGcmSecretCipher({2: K2})
    with pytest.raises(MasterKeyMissing) as caught:
        decrypt(only_new, BLOB)
    assert caught.value.code == "vault_sealed"
    assert "1" in caught.value.message
    with pytest.raises(MasterKeyMissing):
        only_new.rewrap(organization_id=ORG, secret_id=SECRET, version=3, value=BLOB)


ENCODABLE = st.characters(blacklist_categories=["Cs"])  # lone surrogates are not text (refused below)
VALUES = st.one_of(
    st.text(ENCODABLE, min_size=1, max_size=300),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1, max_size=300),
    st.text(st.characters(min_codepoint=0x10000, blacklist_categories=["Cs"]), min_size=1, max_size=50),
    ENCODABLE.map(lambda c: c * MAX_VALUE_LENGTH),
    st.text(ENCODABLE, min_size=1, max_size=64).map(lambda t: (t * MAX_VALUE_LENGTH)[:MAX_VALUE_LENGTH]),
)


@settings(max_examples=150)
@given(VALUES, st.integers(1, 2**31 - 1))
def test_round_trips_over_values_and_versions(value: str, version: int) -> None:
    blob = CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=version, plaintext=value)
    assert decrypt(CIPHER_V1, blob, version=version) == value


@pytest.mark.parametrize(
    "value", ["x", "\x00", "😀", "😀" * MAX_VALUE_LENGTH, "é" * MAX_VALUE_LENGTH, "a\u0301\u200d\U0010ffff"]
)
def test_round_trip_edge_values(value: str) -> None:
    blob = CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=1, plaintext=value)
    assert decrypt(CIPHER_V1, blob, version=1) == value


def test_lone_surrogates_are_refused_without_echo() -> None:
    with pytest.raises(InvalidSecretValue) as caught:
        CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=1, plaintext=PLAINTEXT + "\udcff")
    assert PLAINTEXT not in str(caught.value) and caught.value.__cause__ is None


@pytest.mark.parametrize("version", [0, -1, 2**32])
def test_versions_outside_four_bytes_are_refused(version: int) -> None:
    with pytest.raises(ValueError):
        CIPHER_V1.encrypt(organization_id=ORG, secret_id=SECRET, version=version, plaintext="x")


def test_repr_shows_lengths_not_bytes() -> None:
    text = repr(BLOB)
    assert "48 bytes" in text and "kek_version=1" in text
    for name in BYTE_FIELDS:
        assert repr(getattr(BLOB, name)) not in text and getattr(BLOB, name).hex() not in text


def test_active_version_is_the_highest_unless_given() -> None:
    assert AesGcmSecretCipher({1: K1, 2: K2}).active_key_version == 2
    pinned = AesGcmSecretCipher({1: K1, 2: K2}, active_version=1)
    assert pinned.active_key_version == 1 and pinned.loaded_key_versions == frozenset({1, 2})
    blob = pinned.encrypt(organization_id=ORG, secret_id=SECRET, version=1, plaintext="x")
    assert blob.kek_version == 1


def test_construction_errors_never_show_key_material() -> None:
    with pytest.raises(MasterKeyMissing):
        AesGcmSecretCipher({})
    with pytest.raises(MasterKeyMissing):
        AesGcmSecretCipher({1: K1}, active_version=2)
    short = b"\xab" * 31
    with pytest.raises(MasterKeyConfigError) as caught:
        AesGcmSecretCipher({1: short})
    assert short.hex() not in str(caught.value) and repr(short) not in str(caught.value)


def test_rewrap_moves_the_data_key_to_the_new_master_key_only() -> None:
    both = AesGcmSecretCipher({1: K1, 2: K2})
    moved = both.rewrap(organization_id=ORG, secret_id=SECRET, version=3, value=BLOB)
    assert moved.kek_version == 2
    assert (moved.ciphertext, moved.value_nonce) == (BLOB.ciphertext, BLOB.value_nonce)
    assert moved.wrapped_dek != BLOB.wrapped_dek and moved.dek_nonce != BLOB.dek_nonce
    assert decrypt(AesGcmSecretCipher({2: K2}), moved) == PLAINTEXT
    with pytest.raises(MasterKeyMissing):
        decrypt(AesGcmSecretCipher({1: K1}), moved)


def test_rewrap_at_the_active_version_is_a_no_op() -> None:
    assert CIPHER_V1.rewrap(organization_id=ORG, secret_id=SECRET, version=3, value=BLOB) is BLOB


def test_rewrap_checks_the_context() -> None:
    both = AesGcmSecretCipher({1: K1, 2: K2})
    with pytest.raises(SecretDecryptionFailed):
        both.rewrap(organization_id=uuid4(), secret_id=SECRET, version=3, value=BLOB)


def test_rewrap_succeeds_on_a_garbage_value_ciphertext() -> None:
    """The value is never decrypted: garbage stays garbage, untouched, and only fails at decrypt."""
    garbage = dataclasses.replace(BLOB, ciphertext=os.urandom(64))
    moved = AesGcmSecretCipher({1: K1, 2: K2}).rewrap(organization_id=ORG, secret_id=SECRET, version=3, value=garbage)
    assert moved.ciphertext == garbage.ciphertext and moved.kek_version == 2
    with pytest.raises(SecretDecryptionFailed):
        decrypt(AesGcmSecretCipher({2: K2}), moved)


def test_rewrap_only_decrypts_the_data_key(monkeypatch: pytest.MonkeyPatch) -> None:
    decrypted_aads: list[bytes] = []

    class SpyAESGCM:
        generate_key = staticmethod(AESGCM.generate_key)

        def __init__(self, key: bytes) -> None:
            self._inner = AESGCM(key)

        def encrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            return self._inner.encrypt(nonce, data, aad)

        def decrypt(self, nonce: bytes, data: bytes, aad: bytes | None) -> bytes:
            decrypted_aads.append(aad or b"")
            return self._inner.decrypt(nonce, data, aad)

    monkeypatch.setattr(module, "AESGCM", SpyAESGCM)
    both = AesGcmSecretCipher({1: K1, 2: K2})
    moved = both.rewrap(organization_id=ORG, secret_id=SECRET, version=3, value=BLOB)
    assert [aad.split(b"|")[0] for aad in decrypted_aads] == [b"pytake/vault/dek/v1"]
    decrypt(both, moved)  # the spy does see value decryption when it really happens
    assert any(aad.startswith(b"pytake/vault/val/v1|") for aad in decrypted_aads)
