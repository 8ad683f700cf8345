"""Secret schemas (contract: Secret, SecretUsageStats). No response but ``SecretValueOut`` carries a value."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from domain.vault import MAX_VALUE_LENGTH, SecretEnvironment, SecretStatus
from entrypoints.http.schemas.common import RequestModel, ResponseModel, read_only

_VALUE_DOC = f"The secret value (1..{MAX_VALUE_LENGTH} characters). Never echoed in errors or other responses."
_KEY_DOC = "Letters, digits, '_', '.', '-'; starts with a letter or '_' (pattern ^[A-Za-z_][A-Za-z0-9_.-]{0,127}$)"
_SERVICE_DOC = "Lowercase service tag such as 'whatsapp' (pattern ^[a-z0-9][a-z0-9_.-]{0,63}$)"


class SecretOut(ResponseModel):
    """Metadata only. ``status``: active (served), rotated (new value served, not yet verified by a test or
    activate), inactive (not served: /value answers 409 secret_inactive)."""

    id: UUID
    key: str
    environment: SecretEnvironment
    service: str | None = None
    status: SecretStatus
    organization_id: UUID
    created_at: datetime
    updated_at: datetime
    last_rotated_at: datetime | None = None


class SecretCreateIn(RequestModel):
    key: str = Field(min_length=1, max_length=128, description=_KEY_DOC, examples=["WHATSAPP_TOKEN"])
    value: str = Field(min_length=1, max_length=MAX_VALUE_LENGTH, description=_VALUE_DOC)
    environment: SecretEnvironment = SecretEnvironment.DEVELOPMENT
    service: str | None = Field(default=None, min_length=1, max_length=64, description=_SERVICE_DOC)


class SecretUpdateIn(RequestModel):
    """At least one field. A new value makes an active secret ``rotated``; ``service: null`` clears it."""

    value: str | None = Field(default=None, min_length=1, max_length=MAX_VALUE_LENGTH, description=_VALUE_DOC)
    environment: SecretEnvironment | None = None
    service: str | None = Field(default=None, min_length=1, max_length=64, description=_SERVICE_DOC)
    id: UUID | None = read_only()
    key: str | None = read_only()
    status: SecretStatus | None = read_only()
    organization_id: UUID | None = read_only()
    created_at: datetime | None = read_only()
    updated_at: datetime | None = read_only()
    last_rotated_at: datetime | None = read_only()


class SecretRotateIn(RequestModel):
    """Optional. Without ``value`` the secret is re-keyed (same value, new data key and version)."""

    value: str | None = Field(default=None, min_length=1, max_length=MAX_VALUE_LENGTH, description=_VALUE_DOC)


class SecretTestIn(RequestModel):
    test_type: Literal["decrypt", "format", "whatsapp_token"] | None = Field(
        default=None, description="Default: whatsapp_token for service 'whatsapp', otherwise decrypt")


class SecretTestOut(ResponseModel):
    valid: bool
    message: str | None = None


class SecretValueOut(ResponseModel):
    value: str


class SecretUsageStatsOut(ResponseModel):
    """``success_rate`` = successes / requests rounded to 4 places (0.0 with no requests);
    ``last_used_at`` is null until the first request."""

    secret_id: UUID
    total_requests: int
    last_used_at: datetime | None = None
    success_rate: float
