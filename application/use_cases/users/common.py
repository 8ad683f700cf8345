"""Helpers of the user-management use cases: which roles an org admin may grant."""

from __future__ import annotations

from application.authorization import Actor
from domain.errors import PermissionDenied
from domain.identity import Role


def _check_grant(actor: Actor, role: Role) -> None:
    if role is Role.SUPER_ADMIN and actor.role is not Role.SUPER_ADMIN:
        raise PermissionDenied("Only a super_admin may grant super_admin.")
