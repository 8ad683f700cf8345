"""Organizations, users, roles and the password policy."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.common_passwords import COMMON_PASSWORDS
from domain.errors import Conflict, InvalidValue

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")

PASSWORD_MIN = 8
PASSWORD_MAX = 128


class Role(StrEnum):
    """Roles, most to least powerful."""

    SUPER_ADMIN = "super_admin"
    ORG_ADMIN = "org_admin"
    AGENT = "agent"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.AGENT: 1, Role.ORG_ADMIN: 2, Role.SUPER_ADMIN: 3}


class InvalidEmail(InvalidValue):
    field = "email"
    code = "invalid_email"
    default_message = "The email address is not valid."


class WeakPassword(InvalidValue):
    field = "password"
    code = "weak_password"
    default_message = "The password does not meet the policy."


class EmailAlreadyRegistered(Conflict):
    code = "email_already_registered"
    default_message = "An account with this email already exists."


@dataclass(frozen=True, slots=True)
class Email:
    """A normalized (trimmed, lower-case) email address."""

    value: str

    def __post_init__(self) -> None:
        normalized = self.value.strip().lower()
        if len(normalized) > 254 or not _EMAIL.match(normalized):
            raise InvalidEmail()
        object.__setattr__(self, "value", normalized)

    def __str__(self) -> str:
        return self.value


def check_password_policy(password: str, *, email: str | None = None) -> None:
    """8 to 128 characters, not the email, not a common password. Never echoes the password."""
    normalized = unicodedata.normalize("NFC", password)
    if len(normalized) < PASSWORD_MIN or len(normalized) > PASSWORD_MAX:
        raise WeakPassword(f"The password must have {PASSWORD_MIN} to {PASSWORD_MAX} characters.")
    lowered = normalized.lower()
    if email is not None and lowered in {email.strip().lower(), email.strip().lower().split("@")[0]}:
        raise WeakPassword("The password must not be your email address.")
    if lowered in COMMON_PASSWORDS:
        raise WeakPassword("This password is too common; choose another one.")


@dataclass(slots=True, kw_only=True)
class Organization:
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True, kw_only=True)
class User:
    id: UUID
    organization_id: UUID
    email: str
    name: str
    role: Role
    is_active: bool
    password_hash: str = field(repr=False)
    created_at: datetime
    updated_at: datetime

    def with_changes(self, **changes: object) -> User:
        return replace(self, **changes)  # type: ignore[arg-type]
