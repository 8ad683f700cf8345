"""Every use case of auth, users and contacts built on the in-memory fakes, plus a few shortcuts."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest

from application.authorization import Actor
from application.use_cases.auth.authenticate import AuthenticateCommand, AuthenticateRequest
from application.use_cases.auth.common import AuthPolicy, TokenPair
from application.use_cases.auth.forgot_password import RequestPasswordReset
from application.use_cases.auth.login import LoginCommand, LoginUser
from application.use_cases.auth.logout import LogoutUser
from application.use_cases.auth.me import GetCurrentUser
from application.use_cases.auth.refresh import RefreshSession
from application.use_cases.auth.register import RegisterCommand, RegisterUser
from application.use_cases.auth.reset_password import ResetPassword
from application.use_cases.contacts.create_contact import CreateContact
from application.use_cases.contacts.delete_contact import DeleteContact
from application.use_cases.contacts.get_contact import GetContact
from application.use_cases.contacts.search_contacts import SearchContacts
from application.use_cases.contacts.update_contact import UpdateContact
from application.use_cases.users.create_user import CreateUser
from application.use_cases.users.list_users import ListUsers
from application.use_cases.users.update_user import UpdateUser
from domain.identity import Role, User
from tests.bootstrap import TestApp, bootstrap_test_app
from tests.fake_uow import FakeStore, FakeUnitOfWorkFactory
from tests.fakes import FakeAccessTokenService, FakeClock, FakeMailer, FakePasswordHasher

PASSWORD = "correct horse battery staple"

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive a coroutine that never suspends (everything on the fakes is synchronous) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("the coroutine suspended; run it on an event loop instead")


@dataclass
class UseCases:
    store: FakeStore
    uow: FakeUnitOfWorkFactory
    clock: FakeClock
    hasher: FakePasswordHasher
    tokens: FakeAccessTokenService
    mailer: FakeMailer
    policy: AuthPolicy
    register: RegisterUser = field(init=False)
    login: LoginUser = field(init=False)
    refresh: RefreshSession = field(init=False)
    logout: LogoutUser = field(init=False)
    authenticate: AuthenticateRequest = field(init=False)
    me: GetCurrentUser = field(init=False)
    forgot_password: RequestPasswordReset = field(init=False)
    reset_password: ResetPassword = field(init=False)
    list_users: ListUsers = field(init=False)
    create_user: CreateUser = field(init=False)
    update_user: UpdateUser = field(init=False)
    create_contact: CreateContact = field(init=False)
    search_contacts: SearchContacts = field(init=False)
    get_contact: GetContact = field(init=False)
    update_contact: UpdateContact = field(init=False)
    delete_contact: DeleteContact = field(init=False)

    app: TestApp = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Every use case from the production container (tests/bootstrap.py) on this object's fakes."""
        self.app = app = bootstrap_test_app(uow=self.uow, clock=self.clock, hasher=self.hasher, tokens=self.tokens,
                                            mailer=self.mailer, auth_policy=self.policy)
        self.register = app.register_user
        self.login = app.login_user
        self.refresh = app.refresh_session
        self.logout = app.logout_user
        self.authenticate = app.authenticate
        self.me = app.get_current_user
        self.forgot_password = app.request_password_reset
        self.reset_password = app.reset_password
        self.list_users = app.list_users
        self.create_user = app.create_user
        self.update_user = app.update_user
        self.create_contact = app.create_contact
        self.search_contacts = app.search_contacts
        self.get_contact = app.get_contact
        self.update_contact = app.update_contact
        self.delete_contact = app.delete_contact

    # ----------------------------------------------------------------- shortcuts for arranging tests

    async def signup(self, email: str = "ana@example.com", *, password: str = PASSWORD, name: str = "Ana",
                     organization: str = "Acme") -> TokenPair:
        return await self.register.execute(RegisterCommand(email=email, password=password, name=name,
                                                           organization_name=organization))

    async def actor(self, access_token: str, acting_organization_id: UUID | None = None) -> Actor:
        return await self.authenticate.execute(AuthenticateCommand(
            token=access_token, acting_organization_id=acting_organization_id))

    async def seed_user(self, organization_id: UUID, role: Role, email: str | None = None, *,
                        password: str = PASSWORD, is_active: bool = True) -> User:
        """A user written straight into the store (roles register cannot create, such as super_admin)."""
        now = self.clock.now()
        user = User(id=uuid4(), organization_id=organization_id, email=email or f"{uuid4().hex[:10]}@example.com",
                    name=f"{role.value} user", role=role, is_active=is_active,
                    password_hash=await self.hasher.hash(password), created_at=now, updated_at=now)
        async with self.uow(organization_id) as uow:
            await uow.users.add(user)
            await uow.commit()
        return user

    async def sign_in(self, email: str, password: str = PASSWORD) -> tuple[TokenPair, Actor]:
        pair = await self.login.execute(LoginCommand(email=email, password=password))
        return pair, await self.actor(pair.access_token)

    async def actor_with_role(self, organization_id: UUID, role: Role) -> Actor:
        user = await self.seed_user(organization_id, role)
        return (await self.sign_in(user.email))[1]

    async def new_organization(self, email: str | None = None, name: str = "Org") -> tuple[TokenPair, Actor]:
        """A registered organization and its org_admin's actor."""
        pair = await self.signup(email or f"admin-{uuid4().hex[:8]}@example.com", organization=name)
        return pair, await self.actor(pair.access_token)


def make_use_cases(**overrides: Any) -> UseCases:
    """Fresh fakes for every port; pass e.g. ``clock=`` or ``policy=`` to replace one."""
    clock = overrides.pop("clock", None) or FakeClock()
    uow = overrides.pop("uow", None) or FakeUnitOfWorkFactory(overrides.pop("store", None) or FakeStore())
    parts: dict[str, Any] = {
        "store": uow.store,
        "uow": uow,
        "clock": clock,
        "hasher": FakePasswordHasher(),
        "tokens": FakeAccessTokenService(clock),
        "mailer": FakeMailer(),
        "policy": AuthPolicy(frontend_url="https://app.pytake.test"),
    }
    unknown = set(overrides) - set(parts)
    if unknown:
        raise TypeError(f"unknown overrides: {sorted(unknown)}")
    parts.update(overrides)
    return UseCases(**parts)


@pytest.fixture
def core() -> UseCases:
    return make_use_cases()
