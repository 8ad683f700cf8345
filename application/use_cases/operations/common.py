"""Helpers of the operators' use cases: the super_admin check."""

from __future__ import annotations

from application.authorization import Actor
from domain.errors import PermissionDenied
from domain.identity import Role


def _require_operator(actor: Actor) -> None:
    if actor.role is not Role.SUPER_ADMIN:
        raise PermissionDenied("Only a super_admin may read operational data.")
