"""Port of the secrets vault's envelope cipher (design: research/VAULT_AND_AUTH.md, A2)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from domain.vault import Secret, SecretEnvironment, SecretKey, SecretService

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


# --------------------------------------------------------------------------- storage of secrets and versions


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredVersion:
    """A live (current or previous) version row, as the master-key re-wrap job sees it."""

    organization_id: UUID
    secret_id: UUID
    version: int
    value: EncryptedValue


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretUsage:
    """Usage counters of one secret (all zero when it was never resolved)."""

    secret_id: UUID
    total_requests: int = 0
    success_count: int = 0
    failure_count: int = 0
    last_used_at: datetime | None = None

    @property
    def success_rate(self) -> float:
        """success / total rounded to 4 places; 0.0 with no requests (VAULT.md)."""
        return round(self.success_count / self.total_requests, 4) if self.total_requests else 0.0


class SecretRepository(Protocol):
    """Secrets of the unit of work's organization; deleted secrets are invisible to every read.

    ``add``/``update`` raise ``domain.vault.SecretAlreadyExists`` on a (key, environment, service)
    collision among non-deleted secrets. The re-wrap and seal methods also work in system scope.
    """

    @abstractmethod
    async def add(self, secret: Secret) -> None: ...

    @abstractmethod
    async def get(self, secret_id: UUID, *, for_update: bool = False) -> Secret | None:
        """``for_update`` locks the row until the transaction ends (state transitions)."""

    @abstractmethod
    async def get_by_key(
        self, key: SecretKey, environment: SecretEnvironment, service: SecretService | None
    ) -> Secret | None: ...

    @abstractmethod
    async def with_key(self, key: SecretKey) -> list[Secret]:
        """Every live secret with this key (any environment, any service)."""

    @abstractmethod
    async def search(
        self, *, environment: SecretEnvironment | None, service: SecretService | None, limit: int, offset: int
    ) -> tuple[list[Secret], int]:
        """Ordered by key, then environment, then service; returns (page, total)."""

    @abstractmethod
    async def update(self, secret: Secret) -> None: ...

    @abstractmethod
    async def store_version(self, secret: Secret, version: int, value: EncryptedValue, now: datetime) -> None:
        """Store ``version`` as the current one; the version that was current becomes ``previous``."""

    @abstractmethod
    async def load_version(self, secret_id: UUID, version: int) -> EncryptedValue | None:
        """None when the version does not exist or was destroyed."""

    @abstractmethod
    async def release_versions(self, secret_id: UUID, versions: Sequence[int], now: datetime) -> None:
        """Destroy versions: their ciphertext and wrapped key are erased, the row stays as history."""

    @abstractmethod
    async def versions_below(self, kek_version: int, limit: int) -> list[StoredVersion]:
        """Live versions wrapped under an older master key, locked (FOR UPDATE SKIP LOCKED)."""

    @abstractmethod
    async def count_versions_below(self, kek_version: int) -> int: ...

    @abstractmethod
    async def rewrap_version(self, stored: StoredVersion, value: EncryptedValue) -> None:
        """Replace the wrapped data key (and its kek_version and nonce) of a version; the ciphertext stays."""

    @abstractmethod
    async def kek_versions_in_use(self) -> frozenset[int]:
        """Every master key version a live version row needs."""


class SecretUsageRepository(Protocol):
    """Usage counters, updated atomically in SQL (never read-modify-write)."""

    @abstractmethod
    async def record(self, secret_id: UUID, *, success: bool, now: datetime) -> None:
        """One request: total +1 and success or failure +1, last_used_at = now."""

    @abstractmethod
    async def record_many(self, secret_id: UUID, *, successes: int, failures: int, now: datetime) -> None:
        """Many requests at once: total + successes + failures, last_used_at = now."""

    @abstractmethod
    async def reclassify_as_failure(self, secret_id: UUID, now: datetime) -> None:
        """A caller reports the value it was served was rejected: one success becomes a failure
        (or, with no success to move, one failed request is recorded)."""

    @abstractmethod
    async def get(self, secret_id: UUID) -> SecretUsage: ...

    @abstractmethod
    async def list_for_organization(self, *, limit: int, offset: int) -> tuple[list[SecretUsage], int]:
        """One entry per non-deleted secret of the organization (zeros when unused), ordered by key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VaultAuditEvent:
    """Who did what to which secret, when, and how it went. ``details`` never holds a value."""

    id: UUID
    organization_id: UUID
    secret_id: UUID | None
    actor_user_id: UUID | None
    action: str
    outcome: str  # "success" | "failure"
    created_at: datetime
    details: Mapping[str, str | int | bool | None] = field(default_factory=dict)


class VaultAuditLog(Protocol):
    @abstractmethod
    async def record(self, event: VaultAuditEvent) -> None: ...


# --------------------------------------------------------------------------- provider checks


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """``valid`` is None when the provider could not say (timeout, 5xx, rate limit, network)."""

    valid: bool | None
    message: str


class ProviderCredentialChecker(Protocol):
    @abstractmethod
    async def check_whatsapp_token(self, token: str) -> CredentialCheck:
        """Ask the Graph API (a fixed host) whether ``token`` works. Never logs or echoes the token."""
