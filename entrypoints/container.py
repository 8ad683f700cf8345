"""The composition root: the only module that imports adapters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.mail.mailers import MailboxDirectoryMailer, SmtpMailer
from adapters.postgres.database import create_engine, create_session_factory
from adapters.postgres.migrations import current_revision, head_revision, upgrade
from adapters.postgres.uow import SqlAlchemyUnitOfWorkFactory
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.jwt_tokens import JwtAccessTokenService
from application.ports.common import Mailer
from application.use_cases.auth.authenticate import AuthenticateRequest
from application.use_cases.auth.common import AuthPolicy
from application.use_cases.auth.forgot_password import RequestPasswordReset
from application.use_cases.auth.login import LoginUser
from application.use_cases.auth.logout import LogoutUser
from application.use_cases.auth.me import GetCurrentUser
from application.use_cases.auth.refresh import RefreshSession
from application.use_cases.auth.register import RegisterUser
from application.use_cases.auth.reset_password import ResetPassword
from application.use_cases.contacts.manage_contacts import (
    CreateContact,
    DeleteContact,
    GetContact,
    SearchContacts,
    UpdateContact,
)
from application.use_cases.users.create_superadmin import CreateSuperAdmin
from application.use_cases.users.manage_users import CreateUser, ListUsers, UpdateUser
from entrypoints.config import Settings


async def _engine(database_url: str, app_role: str, pool_size: int) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, app_role=app_role or None, pool_size=pool_size)
    try:
        yield engine
    finally:
        await engine.dispose()


def _mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, sender=settings.mail_from,
                          username=settings.smtp_username, password=password, starttls=settings.smtp_starttls)
    return MailboxDirectoryMailer(Path(settings.data_dir) / "mailbox")


def _secret(value: object) -> str:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)


def apply_migrations(database_url: str) -> None:
    """Upgrade the database to the newest migration (synchronous)."""
    upgrade(database_url)


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    database_url = providers.Dependency(instance_of=str)

    engine = providers.Resource(_engine, database_url=database_url, app_role=settings.provided.database_app_role,
                                pool_size=settings.provided.database_pool_size)
    session_factory = providers.Singleton(create_session_factory, engine)
    uow = providers.Singleton(SqlAlchemyUnitOfWorkFactory, session_factory)
    clock = providers.Singleton(SystemClock)
    hasher = providers.Singleton(Argon2PasswordHasher, time_cost=settings.provided.password_hash_time_cost,
                                 memory_cost_kib=settings.provided.password_hash_memory_kib)
    tokens = providers.Singleton(
        JwtAccessTokenService, secret=providers.Callable(_secret, settings.provided.jwt_secret),
        ttl=providers.Callable(lambda m: timedelta(minutes=m), settings.provided.access_token_minutes))
    auth_policy = providers.Singleton(
        AuthPolicy, frontend_url=settings.provided.frontend_url,
        refresh_ttl=providers.Callable(lambda d: timedelta(days=d), settings.provided.refresh_token_days))
    mailer = providers.Singleton(_mailer, settings)

    # migrations, for the readiness probe
    head_revision = providers.Callable(head_revision)
    current_revision = providers.Callable(current_revision, engine)

    # auth
    register_user = providers.Factory(RegisterUser, uow=uow, hasher=hasher, tokens=tokens, clock=clock,
                                      policy=auth_policy)
    login_user = providers.Factory(LoginUser, uow=uow, hasher=hasher, tokens=tokens, clock=clock,
                                   policy=auth_policy)
    refresh_session = providers.Factory(RefreshSession, uow=uow, tokens=tokens, clock=clock, policy=auth_policy)
    logout_user = providers.Factory(LogoutUser, uow=uow, clock=clock)
    get_current_user = providers.Factory(GetCurrentUser, uow=uow)
    authenticate = providers.Factory(AuthenticateRequest, uow=uow, tokens=tokens, clock=clock)
    request_password_reset = providers.Factory(RequestPasswordReset, uow=uow, clock=clock, policy=auth_policy)
    reset_password = providers.Factory(ResetPassword, uow=uow, hasher=hasher, clock=clock)

    # users
    list_users = providers.Factory(ListUsers, uow=uow)
    create_user = providers.Factory(CreateUser, uow=uow, hasher=hasher, clock=clock, policy=auth_policy)
    update_user = providers.Factory(UpdateUser, uow=uow, clock=clock)
    create_superadmin = providers.Factory(CreateSuperAdmin, uow=uow, hasher=hasher, clock=clock)

    # contacts
    create_contact = providers.Factory(CreateContact, uow=uow, clock=clock)
    search_contacts = providers.Factory(SearchContacts, uow=uow)
    get_contact = providers.Factory(GetContact, uow=uow)
    update_contact = providers.Factory(UpdateContact, uow=uow, clock=clock)
    delete_contact = providers.Factory(DeleteContact, uow=uow)
