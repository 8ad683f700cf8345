"""Secrets vault adapters: the AES-GCM envelope cipher and master-key settings helpers."""

from adapters.vault.aesgcm_cipher import (
    AesGcmSecretCipher,
    MasterKeyConfigError,
    add_master_key,
    dump_master_keys,
    generate_master_key,
    parse_master_keys,
)

__all__ = [
    "AesGcmSecretCipher",
    "MasterKeyConfigError",
    "add_master_key",
    "dump_master_keys",
    "generate_master_key",
    "parse_master_keys",
]
