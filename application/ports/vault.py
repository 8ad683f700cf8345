"""Port of the secrets vault's envelope cipher (design: research/VAULT_AND_AUTH.md, A2)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

ALGORITHM_A256GCM = "A256GCM"


@dataclass(frozen=True, slots=True, kw_only=True)
class EncryptedValue:
    """One stored secret version: the value under a data key, the data key wrapped under a master key.

    ``repr`` shows lengths only, never bytes.
    """

    kek_version: int
    wrapped_dek: bytes
    dek_nonce: bytes
    value_nonce: bytes
    ciphertext: bytes
    algorithm: str = ALGORITHM_A256GCM

    def __repr__(self) -> str:
        return (
            f"EncryptedValue(kek_version={self.kek_version}, algorithm={self.algorithm!r}, "
            f"wrapped_dek=<{len(self.wrapped_dek)} bytes>, dek_nonce=<{len(self.dek_nonce)} bytes>, "
            f"value_nonce=<{len(self.value_nonce)} bytes>, ciphertext=<{len(self.ciphertext)} bytes>)"
        )


class SecretCipher(Protocol):
    """Encrypts secret versions bound to (organization, secret, version).

    Every method raises ``domain.vault.MasterKeyMissing`` when the master key version it needs is
    not loaded, and ``domain.vault.SecretDecryptionFailed`` on any tampering or mismatch.
    """

    @abstractmethod
    def encrypt(
        self, *, organization_id: UUID, secret_id: UUID, version: int, plaintext: str
    ) -> EncryptedValue:
        """Encrypt under a fresh data key wrapped by the active master key."""

    @abstractmethod
    def decrypt(self, *, organization_id: UUID, secret_id: UUID, version: int, value: EncryptedValue) -> str:
        """Return the plaintext; the context must be the one the value was encrypted for."""

    @abstractmethod
    def rewrap(
        self, *, organization_id: UUID, secret_id: UUID, version: int, value: EncryptedValue
    ) -> EncryptedValue:
        """Re-wrap the data key under the active master key.

        The value ciphertext and nonce are returned untouched and the value is never decrypted.
        """

    @property
    @abstractmethod
    def active_key_version(self) -> int:
        """The master key version new data keys are wrapped under."""

    @property
    @abstractmethod
    def loaded_key_versions(self) -> frozenset[int]:
        """Every master key version loaded (boot check: stored kek_versions must be a subset)."""
