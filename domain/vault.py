"""Secrets vault: value objects, the Secret entity and its status machine (shared/VAULT.md).

Status transitions (n = current_version, p = previous_version; on a deleted secret every method
raises SecretNotFound; "drops p" = p is released and previous_version becomes None):

    method          from active             from rotated                 from inactive
    change_value    rotated, n+1, p=n       409 rotation_in_progress     inactive, n+1, releases n
    rekey           active, n+1, rel. n     rotated, n+1, rel. n, p kept inactive, n+1, releases n
    activate        active (no-op)          active, drops p              active
    deactivate      inactive                inactive, drops p            inactive (no-op)
    record_test ok  active                  active, drops p              inactive
    record_test ko  active                  rotated                      inactive
    ensure_servable ok                      ok                           409 secret_inactive

Invariant: ``previous_version is not None`` exactly when ``status is ROTATED``. A value change on an
inactive secret is allowed (an admin may fix a credential before re-enabling it); it stays inactive
and keeps no fallback, because nothing is served and ``activate`` would drop the fallback anyway.
Each transition returns a :class:`VersionChange` telling the use case which version to encrypt and
which stored versions are no longer needed (destroy now or after a grace period).
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Final
from uuid import UUID

from domain.errors import Conflict, DomainError, InvalidValue, NotFound, RuleViolation

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_VALUE_LENGTH: Final = 16384
MASKED: Final = "SecretValue(****)"


class SecretEnvironment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class SecretStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    ROTATED = "rotated"


class InvalidSecretKey(InvalidValue):
    code = "invalid_secret_key"
    default_message = "key must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or '_'."


class InvalidSecretService(InvalidValue):
    code = "invalid_secret_service"
    default_message = (
        "service must be 1 to 64 lowercase letters, digits, '_', '.' or '-', starting with a letter or digit."
    )


class InvalidSecretValue(InvalidValue):
    code = "invalid_secret_value"
    default_message = f"value must be 1 to {MAX_VALUE_LENGTH} characters of valid Unicode text."


class SecretNotFound(NotFound):
    code = "secret_not_found"
    default_message = "Secret not found."


class SecretAlreadyExists(Conflict):
    code = "secret_already_exists"
    default_message = "A secret with this key already exists for this environment and service."


class SecretInactive(Conflict):
    code = "secret_inactive"
    default_message = "The secret is inactive; activate it before using its value."


class RotationInProgress(Conflict):
    code = "rotation_in_progress"
    default_message = "The new value is not verified yet; test or activate the secret before changing it."


class SecretDecryptionFailed(DomainError):
    """Integrity failure (tampered, copied or mismatched row): HTTP 500 with a generic message."""

    code = "secret_decrypt_failed"
    default_message = "The secret could not be decrypted."


class SecretUnavailable(RuleViolation):
    """A flow's ``{{secret:KEY}}`` names no secret of the organization, or one that cannot be served; the
    message names the key, never a value."""

    code = "secret_unavailable"
    default_message = "A secret the flow needs is not available."


class MasterKeyMissing(DomainError):
    """A master key version a stored row needs is not loaded (the vault is sealed)."""

    code = "vault_sealed"
    default_message = "The vault is sealed: a required master key is not loaded."


@dataclass(frozen=True, slots=True)
class SecretKey:
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or _KEY.fullmatch(self.value) is None:
            raise InvalidSecretKey()

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class SecretService:
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.value, str) or _SERVICE.fullmatch(self.value) is None:
            raise InvalidSecretService()

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class SecretValue:
    """A plaintext secret. ``repr``/``str``/``format`` show ``SecretValue(****)``; ``reveal()`` returns it."""

    _plaintext: str

    def __post_init__(self) -> None:
        text = self._plaintext
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_VALUE_LENGTH:
            raise InvalidSecretValue()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates; the codec message would quote the value
            raise InvalidSecretValue() from None

    def reveal(self) -> str:
        return self._plaintext

    def __repr__(self) -> str:
        return MASKED

    def __str__(self) -> str:
        return MASKED

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._plaintext.encode("utf-8"), other._plaintext.encode("utf-8"))

    __hash__ = None  # type: ignore[assignment]  # no hash of the plaintext anywhere


@dataclass(frozen=True, slots=True)
class VersionChange:
    """Effect of a transition on stored versions.

    ``new_version``: the version to encrypt and store as current (None when no version is created).
    ``released``: versions no longer needed, to destroy (or schedule for destruction).
    """

    new_version: int | None = None
    released: tuple[int, ...] = ()


class _Unset(Enum):
    UNSET = "unset"


UNSET: Final = _Unset.UNSET


@dataclass(slots=True, kw_only=True)
class Secret:
    id: UUID
    organization_id: UUID
    key: SecretKey
    environment: SecretEnvironment = SecretEnvironment.DEVELOPMENT
    service: SecretService | None = None
    status: SecretStatus = SecretStatus.ACTIVE
    current_version: int = 1
    previous_version: int | None = None
    last_rotated_at: datetime | None = None
    last_tested_at: datetime | None = None
    last_test_valid: bool | None = None
    created_by: UUID | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        id: UUID,
        organization_id: UUID,
        key: SecretKey,
        now: datetime,
        environment: SecretEnvironment = SecretEnvironment.DEVELOPMENT,
        service: SecretService | None = None,
        created_by: UUID | None = None,
    ) -> Secret:
        """A new secret at version 1, active. The caller encrypts version 1."""
        return cls(
            id=id, organization_id=organization_id, key=key, environment=environment, service=service,
            created_by=created_by, created_at=now, updated_at=now,
        )

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def ensure_servable(self) -> None:
        """Raise unless the value may be served (``active`` or ``rotated``)."""
        self._ensure_exists()
        if self.status is SecretStatus.INACTIVE:
            raise SecretInactive()

    def change_value(self, now: datetime) -> VersionChange:
        """A new value: version n+1. Active -> rotated (n kept as fallback); inactive stays inactive."""
        self._ensure_exists()
        if self.status is SecretStatus.ROTATED:
            raise RotationInProgress()
        old = self.current_version
        self.current_version = old + 1
        self.last_rotated_at = now
        self.updated_at = now
        if self.status is SecretStatus.ACTIVE:
            self.status = SecretStatus.ROTATED
            self.previous_version = old
            return VersionChange(new_version=self.current_version)
        return VersionChange(new_version=self.current_version, released=(old,))

    def rekey(self, now: datetime) -> VersionChange:
        """Same value under a fresh data key: version n+1, n destroyed, status and fallback unchanged."""
        self._ensure_exists()
        old = self.current_version
        self.current_version = old + 1
        self.last_rotated_at = now
        self.updated_at = now
        return VersionChange(new_version=self.current_version, released=(old,))

    def activate(self, now: datetime) -> VersionChange:
        """Idempotent. Rotated -> active drops the fallback (manual finish of a rotation)."""
        self._ensure_exists()
        if self.status is SecretStatus.ACTIVE:
            return VersionChange()
        self.status = SecretStatus.ACTIVE
        self.updated_at = now
        return self._drop_fallback()

    def deactivate(self, now: datetime) -> VersionChange:
        """Idempotent. From rotated the fallback is dropped (see the module invariant)."""
        self._ensure_exists()
        if self.status is SecretStatus.INACTIVE:
            return VersionChange()
        self.status = SecretStatus.INACTIVE
        self.updated_at = now
        return self._drop_fallback()

    def record_test(self, valid: bool, now: datetime) -> VersionChange:
        """Store the outcome; a valid test promotes ``rotated`` to ``active``."""
        self._ensure_exists()
        self.last_tested_at = now
        self.last_test_valid = valid
        self.updated_at = now
        if valid and self.status is SecretStatus.ROTATED:
            self.status = SecretStatus.ACTIVE
            return self._drop_fallback()
        return VersionChange()

    def update_metadata(
        self,
        *,
        now: datetime,
        environment: SecretEnvironment | None = None,
        service: SecretService | None | _Unset = UNSET,
    ) -> bool:
        """Change environment and/or service (``service=None`` clears it). Returns whether anything changed.

        Uniqueness of (organization, key, environment, service) is the repository's job.
        """
        self._ensure_exists()
        changed = False
        if environment is not None and environment is not self.environment:
            self.environment = environment
            changed = True
        if not isinstance(service, _Unset) and service != self.service:
            self.service = service
            changed = True
        if changed:
            self.updated_at = now
        return changed

    def delete(self, now: datetime) -> None:
        """Soft delete; afterwards every method raises SecretNotFound and the key may be reused."""
        self._ensure_exists()
        self.deleted_at = now
        self.updated_at = now

    def _drop_fallback(self) -> VersionChange:
        previous, self.previous_version = self.previous_version, None
        return VersionChange(released=() if previous is None else (previous,))

    def _ensure_exists(self) -> None:
        if self.deleted_at is not None:
            raise SecretNotFound()
