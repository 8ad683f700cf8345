"""Register: a new organization and its first user, an org_admin, signed in (SPEC.md, "Auth")."""

from __future__ import annotations

import pytest

from application.use_cases.auth.common import hash_token
from domain.errors import InvalidValue
from domain.identity import EmailAlreadyRegistered, InvalidEmail, Role, WeakPassword
from tests.unit.conftest import PASSWORD, UseCases


def _counts(core: UseCases) -> tuple[int, int, int, int]:
    s = core.store
    return len(s.organizations), len(s.users), len(s.sessions), len(s.refresh_tokens)


async def test_creates_the_organization_and_its_org_admin_signed_in(core: UseCases) -> None:
    pair = await core.signup("  Ana.Souza@Example.COM ", name=" Ana Souza ", organization=" Acme Ltda ")

    (organization,) = core.store.organizations.values()
    (user,) = core.store.users.values()
    assert organization.name == "Acme Ltda"
    assert user.organization_id == organization.id
    assert user.email == "ana.souza@example.com"
    assert user.name == "Ana Souza"
    assert user.role is Role.ORG_ADMIN and user.is_active
    assert user.password_hash != PASSWORD and await core.hasher.verify(user.password_hash, PASSWORD)
    assert pair.user.id == user.id

    (session,) = core.store.sessions.values()
    assert session.user_id == user.id and session.organization_id == organization.id
    assert session.revoked_at is None
    (token,) = core.store.refresh_tokens.values()
    assert token.token_hash == hash_token(pair.refresh_token) != pair.refresh_token
    assert token.session_id == session.id

    actor = await core.actor(pair.access_token)
    assert (actor.user_id, actor.organization_id, actor.role) == (user.id, organization.id, Role.ORG_ADMIN)
    assert actor.session_id == session.id


async def test_each_registration_is_a_separate_organization(core: UseCases) -> None:
    first = await core.signup("ana@example.com", organization="Acme")
    second = await core.signup("bruno@example.com", organization="Acme")
    assert first.user.organization_id != second.user.organization_id
    assert _counts(core) == (2, 2, 2, 2)


@pytest.mark.parametrize("again", ["ana@example.com", "ANA@Example.com", "  ana@EXAMPLE.COM  "])
async def test_duplicate_email_is_refused_case_insensitively_and_leaves_no_orphan(core: UseCases,
                                                                                   again: str) -> None:
    await core.signup("Ana@Example.com")
    before, commits = _counts(core), core.uow.commits

    with pytest.raises(EmailAlreadyRegistered) as raised:
        await core.signup(again, organization="Another org")

    assert raised.value.code == "email_already_registered"
    assert _counts(core) == before == (1, 1, 1, 1)
    assert [o.name for o in core.store.organizations.values()] == ["Acme"]
    assert core.uow.commits == commits


@pytest.mark.parametrize("password", ["short7!", "x" * 129, "password123", "ana@example.com", "ANA@example.COM"])
async def test_weak_password_stores_nothing(core: UseCases, password: str) -> None:
    with pytest.raises(WeakPassword):
        await core.signup("ana@example.com", password=password)
    assert _counts(core) == (0, 0, 0, 0)
    assert core.uow.commits == 0


@pytest.mark.parametrize(("name", "organization"), [("", "Acme"), ("   ", "Acme"), ("Ana", ""), ("Ana", " \t ")])
async def test_blank_names_are_rejected(core: UseCases, name: str, organization: str) -> None:
    with pytest.raises(InvalidValue):
        await core.signup("ana@example.com", name=name, organization=organization)
    assert _counts(core) == (0, 0, 0, 0)


async def test_invalid_email_is_rejected(core: UseCases) -> None:
    with pytest.raises(InvalidEmail):
        await core.signup("not-an-email")
    assert _counts(core) == (0, 0, 0, 0)
