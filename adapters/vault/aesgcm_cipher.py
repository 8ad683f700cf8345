"""Envelope encryption of secrets with AES-256-GCM and per-organization HKDF keys (VAULT_AND_AUTH.md A2).

    KEK(org, kv) = HKDF-SHA256(MASTER[kv], length=32, salt=None, info=b"pytake/vault/kek/v1|" + org + kv)
    DEK          = 32 random bytes, fresh per secret version
    ciphertext   = AESGCM(DEK).encrypt(value_nonce, utf8(value), b"pytake/vault/val/v1|" + org + secret + v)
    wrapped_dek  = AESGCM(KEK).encrypt(dek_nonce, DEK, b"pytake/vault/dek/v1|" + org + secret + v + kv)

``org``/``secret`` are 16-byte UUIDs and ``v``/``kv`` 4-byte big-endian integers (fixed-length fields,
so no two contexts collide). Nonces are 12 random bytes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from application.ports.vault import ALGORITHM_A256GCM, EncryptedValue, SecretCipher
from domain.vault import InvalidSecretValue, MasterKeyMissing, SecretDecryptionFailed

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_U32 = 2**32 - 1
_KEK_INFO = b"pytake/vault/kek/v1|"
_VALUE_AAD = b"pytake/vault/val/v1|"
_DEK_AAD = b"pytake/vault/dek/v1|"
_VERSION_NAME = re.compile(r"[1-9][0-9]{0,8}")


class MasterKeyConfigError(ValueError):
    """VAULT_MASTER_KEYS is malformed. Messages name versions and lengths, never key material."""


def _u32(number: int, what: str) -> bytes:
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_U32:
        raise ValueError(f"{what} must be an integer from 1 to {MAX_U32}")
    return number.to_bytes(4, "big")


def _value_aad(organization_id: UUID, secret_id: UUID, version: int) -> bytes:
    return _VALUE_AAD + organization_id.bytes + secret_id.bytes + _u32(version, "version")


def _dek_aad(organization_id: UUID, secret_id: UUID, version: int, kek_version: int) -> bytes:
    return (
        _DEK_AAD + organization_id.bytes + secret_id.bytes + _u32(version, "version")
        + _u32(kek_version, "kek_version")
    )


class AesGcmSecretCipher(SecretCipher):
    def __init__(self, master_keys: Mapping[int, bytes], active_version: int | None = None) -> None:
        if not master_keys:
            raise MasterKeyMissing("The vault is sealed: no master key is loaded.")
        for version, key in master_keys.items():
            _u32(version, "master key version")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise MasterKeyConfigError(f"master key version {version} must be exactly {KEY_BYTES} bytes")
        self._keys = dict(master_keys)
        active = max(self._keys) if active_version is None else active_version
        if active not in self._keys:
            raise MasterKeyMissing(f"The vault is sealed: active master key version {active} is not loaded.")
        self._active = active

    @property
    def active_key_version(self) -> int:
        return self._active

    @property
    def loaded_key_versions(self) -> frozenset[int]:
        return frozenset(self._keys)

    def encrypt(
        self, *, organization_id: UUID, secret_id: UUID, version: int, plaintext: str
    ) -> EncryptedValue:
        try:
            data = plaintext.encode("utf-8")
        except UnicodeEncodeError:  # the codec's message would quote part of the value
            raise InvalidSecretValue() from None
        dek = AESGCM.generate_key(bit_length=256)
        value_nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(dek).encrypt(value_nonce, data, _value_aad(organization_id, secret_id, version))
        dek_nonce, wrapped = self._wrap(dek, organization_id, secret_id, version)
        return EncryptedValue(
            kek_version=self._active, wrapped_dek=wrapped, dek_nonce=dek_nonce, value_nonce=value_nonce,
            ciphertext=ciphertext,
        )

    def decrypt(self, *, organization_id: UUID, secret_id: UUID, version: int, value: EncryptedValue) -> str:
        dek = self._unwrap(value, organization_id, secret_id, version)
        if len(value.value_nonce) != NONCE_BYTES or len(value.ciphertext) <= TAG_BYTES:
            raise SecretDecryptionFailed()
        try:
            data = AESGCM(dek).decrypt(
                value.value_nonce, value.ciphertext, _value_aad(organization_id, secret_id, version)
            )
            return data.decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            raise SecretDecryptionFailed() from None

    def rewrap(
        self, *, organization_id: UUID, secret_id: UUID, version: int, value: EncryptedValue
    ) -> EncryptedValue:
        """Re-wrap the data key under the active master key. A value already there is returned as is."""
        dek = self._unwrap(value, organization_id, secret_id, version)
        if value.kek_version == self._active:
            return value
        dek_nonce, wrapped = self._wrap(dek, organization_id, secret_id, version)
        return EncryptedValue(
            kek_version=self._active, wrapped_dek=wrapped, dek_nonce=dek_nonce, value_nonce=value.value_nonce,
            ciphertext=value.ciphertext, algorithm=value.algorithm,
        )

    def _kek(self, organization_id: UUID, kek_version: int) -> bytes:
        master = self._keys.get(kek_version)
        if master is None:
            raise MasterKeyMissing(f"The vault is sealed: master key version {kek_version} is not loaded.")
        hkdf = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
            info=_KEK_INFO + organization_id.bytes + _u32(kek_version, "kek_version"),
        )
        return hkdf.derive(master)

    def _wrap(self, dek: bytes, organization_id: UUID, secret_id: UUID, version: int) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        aad = _dek_aad(organization_id, secret_id, version, self._active)
        return nonce, AESGCM(self._kek(organization_id, self._active)).encrypt(nonce, dek, aad)

    def _unwrap(self, value: EncryptedValue, organization_id: UUID, secret_id: UUID, version: int) -> bytes:
        if value.algorithm != ALGORITHM_A256GCM:
            raise SecretDecryptionFailed()
        kek = self._kek(organization_id, value.kek_version)
        if len(value.dek_nonce) != NONCE_BYTES or len(value.wrapped_dek) != KEY_BYTES + TAG_BYTES:
            raise SecretDecryptionFailed()
        aad = _dek_aad(organization_id, secret_id, version, value.kek_version)
        try:
            return AESGCM(kek).decrypt(value.dek_nonce, value.wrapped_dek, aad)
        except InvalidTag:
            raise SecretDecryptionFailed() from None


def generate_master_key() -> str:
    """32 random bytes, standard base64: a new entry for VAULT_MASTER_KEYS."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for name, item in pairs:
        if name in result:
            raise MasterKeyConfigError("VAULT_MASTER_KEYS: a version appears twice")
        result[name] = item
    return result


def parse_master_keys(text: str) -> dict[int, bytes]:
    """Parse ``VAULT_MASTER_KEYS`` = ``{"1": "<base64 of 32 bytes>", ...}`` into {version: key}.

    Errors (MasterKeyConfigError) name the version and the problem, never the key text.
    """
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicates)
    except MasterKeyConfigError:
        raise
    except (ValueError, TypeError):  # JSONDecodeError keeps the whole text in .doc: do not chain it
        raise MasterKeyConfigError(
            'VAULT_MASTER_KEYS must be a JSON object like {"1": "<base64 of 32 bytes>"}'
        ) from None
    if not isinstance(document, dict) or not document:
        raise MasterKeyConfigError('VAULT_MASTER_KEYS must be a non-empty JSON object like {"1": "<base64>"}')
    keys: dict[int, bytes] = {}
    for name, encoded in document.items():
        if _VERSION_NAME.fullmatch(name) is None:
            raise MasterKeyConfigError("VAULT_MASTER_KEYS: versions must be positive integers such as \"1\"")
        version = int(name)
        if not isinstance(encoded, str):
            raise MasterKeyConfigError(f"VAULT_MASTER_KEYS: version {version} must be a base64 string")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyConfigError(f"VAULT_MASTER_KEYS: version {version} is not valid base64") from None
        if len(raw) != KEY_BYTES:
            raise MasterKeyConfigError(
                f"VAULT_MASTER_KEYS: version {version} must decode to exactly {KEY_BYTES} bytes, "
                f"got {len(raw)}"
            )
        keys[version] = raw
    return keys


def dump_master_keys(keys: Mapping[int, bytes]) -> str:
    """The settings text for ``keys``, versions in ascending order."""
    return json.dumps({str(v): base64.b64encode(keys[v]).decode("ascii") for v in sorted(keys)})


def add_master_key(text: str) -> tuple[str, int]:
    """Append a fresh master key as version max+1 (1 when ``text`` is blank): (new settings text, version)."""
    keys = parse_master_keys(text) if text.strip() else {}
    version = max(keys, default=0) + 1
    keys[version] = base64.b64decode(generate_master_key())
    return dump_master_keys(keys), version
