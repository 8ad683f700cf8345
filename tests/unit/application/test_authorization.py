"""Every cell of the role matrix of SPEC.md ("Tenancy and roles") through Actor.can and Actor.require."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.authorization import Actor, Permission
from domain.errors import PermissionDenied
from domain.identity import Role

VIEWER, AGENT, ORG_ADMIN, SUPER_ADMIN = Role.VIEWER, Role.AGENT, Role.ORG_ADMIN, Role.SUPER_ADMIN
EVERYONE = {VIEWER, AGENT, ORG_ADMIN, SUPER_ADMIN}

# The SPEC table, row by row: which roles answer "yes".
MATRIX: dict[Permission, set[Role]] = {
    Permission.READ: EVERYONE,  # read contacts, flows, automations, numbers, stats
    Permission.WRITE_CONTACTS: {AGENT, ORG_ADMIN, SUPER_ADMIN},  # create contacts
    Permission.SEND_MESSAGES: {AGENT, ORG_ADMIN, SUPER_ADMIN},  # send WhatsApp messages
    Permission.MANAGE_FLOWS: {ORG_ADMIN, SUPER_ADMIN},  # flows; create/start automations; register numbers
    Permission.MANAGE_SECRETS: {ORG_ADMIN, SUPER_ADMIN},  # everything under /secrets
    Permission.MANAGE_USERS: {ORG_ADMIN, SUPER_ADMIN},  # manage users of the organization
}

CELLS = [(permission, role, role in allowed) for permission, allowed in MATRIX.items() for role in Role]


def _actor(role: Role) -> Actor:
    return Actor(user_id=uuid4(), organization_id=uuid4(), role=role, session_id=uuid4(), jti="jti",
                 token_expires_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_the_matrix_covers_every_permission() -> None:
    assert set(MATRIX) == set(Permission)
    assert len(CELLS) == len(Permission) * len(Role) == 24


@pytest.mark.parametrize(("permission", "role", "allowed"), CELLS,
                         ids=[f"{p.value}-{r.value}-{'yes' if a else 'no'}" for p, r, a in CELLS])
def test_cell(permission: Permission, role: Role, allowed: bool) -> None:
    actor = _actor(role)

    assert actor.can(permission) is allowed
    if allowed:
        actor.require(permission)
    else:
        with pytest.raises(PermissionDenied) as raised:
            actor.require(permission)
        assert raised.value.code == "permission_denied"
