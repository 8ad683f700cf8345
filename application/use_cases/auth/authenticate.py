"""Turn a bearer token into an Actor, reading role and active flag from the database each time."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from application.authorization import Actor
from application.errors import InvalidToken, OrganizationHeaderForbidden, OrganizationNotFound, TokenRevoked
from application.ports.common import Clock
from application.ports.identity import AccessCheck, AccessTokenService
from domain.identity import Role


@dataclass(frozen=True, slots=True, kw_only=True)
class AuthenticateCommand:
    token: str = field(repr=False)
    acting_organization_id: UUID | None = None


class AuthenticateRequest:
    """One statement per request (``AccessCheck``): deny-list, session and user are read together."""

    def __init__(self, *, access: AccessCheck, tokens: AccessTokenService, clock: Clock) -> None:
        self._access, self._tokens, self._clock = access, tokens, clock

    async def execute(self, cmd: AuthenticateCommand) -> Actor:
        claims = self._tokens.decode(cmd.token)
        facts = await self._access.facts(user_id=claims.user_id, session_id=claims.session_id, jti=claims.jti,
                                         now=self._clock.now(), acting_organization_id=cmd.acting_organization_id)
        if facts.denied or not facts.session_active:
            raise TokenRevoked()
        if not facts.user_found or facts.role is None or facts.organization_id != claims.organization_id:
            raise InvalidToken()
        if not facts.is_active:
            raise InvalidToken("This user account is inactive.")
        organization_id = claims.organization_id
        if cmd.acting_organization_id is not None:
            if facts.role is not Role.SUPER_ADMIN:
                raise OrganizationHeaderForbidden()
            if not facts.acting_organization_exists:
                raise OrganizationNotFound()
            organization_id = cmd.acting_organization_id
        return Actor(user_id=claims.user_id, organization_id=organization_id, role=facts.role,
                     session_id=claims.session_id, jti=claims.jti, token_expires_at=claims.expires_at)
