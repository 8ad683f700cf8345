"""Who is calling, and what each role may do (the role matrix of SPEC.md, in one place)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from domain.errors import PermissionDenied
from domain.identity import Role


class Permission(StrEnum):
    READ = "read"  # contacts, flows, automations, numbers, stats
    WRITE_CONTACTS = "write_contacts"
    SEND_MESSAGES = "send_messages"
    MANAGE_FLOWS = "manage_flows"  # flows, automations, numbers
    MANAGE_SECRETS = "manage_secrets"
    MANAGE_USERS = "manage_users"


_MINIMUM_ROLE: dict[Permission, Role] = {
    Permission.READ: Role.VIEWER,
    Permission.WRITE_CONTACTS: Role.AGENT,
    Permission.SEND_MESSAGES: Role.AGENT,
    Permission.MANAGE_FLOWS: Role.ORG_ADMIN,
    Permission.MANAGE_SECRETS: Role.ORG_ADMIN,
    Permission.MANAGE_USERS: Role.ORG_ADMIN,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """The authenticated caller, as read from the database on this request.

    ``organization_id`` is the organization acted in: the user's own, or the one a
    ``super_admin`` chose with ``X-Organization-ID``.
    """

    user_id: UUID
    organization_id: UUID
    role: Role
    session_id: UUID
    jti: str
    token_expires_at: datetime

    def can(self, permission: Permission) -> bool:
        return self.role.at_least(_MINIMUM_ROLE[permission])

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDenied()
