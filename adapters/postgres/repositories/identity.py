"""Organizations and users."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from adapters.postgres.counting import ListCounter
from adapters.postgres.errors import execute_translated
from adapters.postgres.tables import organizations, users
from application.ports.identity import OrganizationRepository, UserRepository
from domain.identity import Organization, Role, User


def _user(row: Any) -> User:
    return User(id=row.id, organization_id=row.organization_id, email=row.email, name=row.name,
                role=Role(row.role), is_active=row.is_active, password_hash=row.password_hash,
                created_at=row.created_at, updated_at=row.updated_at)


class SqlAlchemyOrganizationRepository(OrganizationRepository):
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, organization: Organization) -> None:
        await self._session.execute(insert(organizations).values(
            id=organization.id, name=organization.name, created_at=organization.created_at,
            updated_at=organization.updated_at))

    async def get(self, organization_id: UUID) -> Organization | None:
        row = (await self._session.execute(
            select(organizations).where(organizations.c.id == organization_id))).first()
        if row is None:
            return None
        return Organization(id=row.id, name=row.name, created_at=row.created_at, updated_at=row.updated_at)


class SqlAlchemyUserRepository(UserRepository):
    def __init__(self, session: AsyncSession, organization_id: UUID | None, *,
                 counter: ListCounter | None = None) -> None:
        self._counter = counter or ListCounter()
        self._session, self._org = session, organization_id

    def _scoped(self) -> Any:
        if self._org is None:
            raise RuntimeError("organization-scoped repository used in system scope")
        return users.c.organization_id == self._org

    async def add(self, user: User) -> None:
        await execute_translated(self._session, insert(users).values(
            id=user.id, organization_id=user.organization_id, email=user.email, name=user.name,
            role=user.role.value, is_active=user.is_active, password_hash=user.password_hash,
            created_at=user.created_at, updated_at=user.updated_at))

    async def get(self, user_id: UUID) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id, self._scoped()))).first()
        return _user(row) if row else None

    async def update(self, user: User) -> None:
        conditions = [users.c.id == user.id, users.c.organization_id == user.organization_id]
        if self._org is not None:
            conditions.append(self._scoped())
        await self._session.execute(update(users).where(*conditions).values(
            name=user.name, role=user.role.value, is_active=user.is_active, password_hash=user.password_hash,
            updated_at=user.updated_at))

    async def list(self, *, limit: int, offset: int) -> tuple[list[User], int]:
        rows = (await self._session.execute(
            select(users).where(self._scoped()).order_by(users.c.created_at.desc(), users.c.id.desc())
            .limit(limit).offset(offset))).all()
        total = await self._counter.total(self._session, select(users.c.id).where(self._scoped()),
                                          key=("users", self._org))
        return [_user(r) for r in rows], total

    async def get_by_email_any_org(self, email: str) -> User | None:
        row = (await self._session.execute(
            select(users).where(func.lower(users.c.email) == email.strip().lower()))).first()
        return _user(row) if row else None

    async def get_any_org(self, user_id: UUID) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.id == user_id))).first()
        return _user(row) if row else None
