"""The vault behind the channel's ``SecretResolver`` port (the WhatsApp sender's access token)."""

from __future__ import annotations

from uuid import UUID

from application.ports.channel import SecretResolver
from application.use_cases.vault.count_secret_uses import CountSecretUses
from application.use_cases.vault.report_secret_failure import ReportSecretFailure
from application.use_cases.vault.resolve_secret import ResolveSecret, ResolveSecretQuery


class VaultSecretResolver(SecretResolver):
    """The vault behind the channel's ``SecretResolver`` port (the WhatsApp sender's access token)."""

    def __init__(self, *, resolve: ResolveSecret, report: ReportSecretFailure, count: CountSecretUses) -> None:
        self._resolve, self._report, self._count = resolve, report, count

    async def resolve(self, organization_id: UUID, secret_id: UUID, *, count: bool = True) -> str:
        resolved = await self._resolve.execute(ResolveSecretQuery(organization_id=organization_id,
                                                                  secret_id=secret_id, count_usage=count))
        return resolved.value.reveal()

    async def report_failure(self, organization_id: UUID, secret_id: UUID) -> None:
        await self._report.execute(organization_id, secret_id)

    async def count_uses(self, organization_id: UUID, secret_id: UUID, *, successes: int, failures: int) -> None:
        await self._count.execute(organization_id, secret_id, successes=successes, failures=failures)
