"""Turn a bearer token into an Actor, reading role and active flag from the database each time."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from application.authorization import Actor
from application.errors import InvalidToken, OrganizationHeaderForbidden, OrganizationNotFound, TokenRevoked
from application.ports.common import Clock
from application.ports.identity import AccessTokenService
from application.ports.uow import UnitOfWorkFactory
from domain.identity import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticateCommand:
    token: str = field(repr=False)
    acting_organization_id: UUID | None = None


class AuthenticateRequest:
    def __init__(self, *, uow: UnitOfWorkFactory, tokens: AccessTokenService, clock: Clock) -> None:
        self._uow, self._tokens, self._clock = uow, tokens, clock

    async def execute(self, cmd: AuthenticateCommand) -> Actor:
        claims = self._tokens.decode(cmd.token)
        now = self._clock.now()
        async with self._uow() as uow:
            if await uow.sessions.is_access_token_denied(claims.jti):
                raise TokenRevoked()
            if not await uow.sessions.is_session_active(claims.session_id, now):
                raise TokenRevoked()
            user = await uow.users.get_any_org(claims.user_id)
            if user is None or user.organization_id != claims.organization_id:
                raise InvalidToken()
            if not user.is_active:
                raise InvalidToken("This user account is inactive.")
            organization_id = user.organization_id
            if cmd.acting_organization_id is not None:
                if user.role is not Role.SUPER_ADMIN:
                    raise OrganizationHeaderForbidden()
                if cmd.acting_organization_id != organization_id and \
                        await uow.organizations.get(cmd.acting_organization_id) is None:
                    raise OrganizationNotFound()
                organization_id = cmd.acting_organization_id
        return Actor(user_id=user.id, organization_id=organization_id, role=user.role,
                     session_id=claims.session_id, jti=claims.jti, token_expires_at=claims.expires_at)
