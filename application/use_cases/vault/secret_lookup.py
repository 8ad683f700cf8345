"""``{{secret:KEY}}`` of a flow's ``http_request`` node -> the value of the organization's secret with that key."""

from __future__ import annotations

from uuid import UUID

from application.ports.uow import UnitOfWorkFactory
from application.use_cases.vault.resolve_secret import ResolveSecret, ResolveSecretQuery
from domain.errors import DomainError
from domain.vault import SecretEnvironment, SecretKey, SecretUnavailable

ENVIRONMENT_PREFERENCE = (SecretEnvironment.PRODUCTION, SecretEnvironment.STAGING, SecretEnvironment.DEVELOPMENT)


class SecretLookup:
    """The secret with that key in any environment (production first, then staging, then development),
    preferring one with no service. Every resolution is counted in the secret's usage; values are only ever
    held in memory."""

    def __init__(self, *, uow: UnitOfWorkFactory, resolve: ResolveSecret) -> None:
        self._uow, self._resolve = uow, resolve

    async def _secret_id(self, organization_id: UUID, key: str) -> UUID | None:
        async with self._uow(organization_id) as uow:
            candidates = await uow.secrets.with_key(SecretKey(key))
        if not candidates:
            return None
        best = min(candidates, key=lambda s: (ENVIRONMENT_PREFERENCE.index(s.environment), s.service is not None))
        return best.id

    async def values(self, organization_id: UUID, keys: set[str]) -> dict[str, str]:
        """Raises SecretUnavailable naming the key (never a value)."""
        values = {}
        for key in sorted(keys):
            secret_id = await self._secret_id(organization_id, key)
            if secret_id is None:
                raise SecretUnavailable(f"secret {key!r} was not found in the vault")
            try:
                resolved = await self._resolve.execute(ResolveSecretQuery(organization_id=organization_id,
                                                                          secret_id=secret_id))
            except DomainError as e:
                raise SecretUnavailable(f"secret {key!r} is unavailable ({e.code})") from None
            values[key] = resolved.value.reveal()
        return values
