"""Internal resolution of a secret's value by other parts of the system (the WhatsApp sender's access
token, flow HTTP nodes' ``{{secret:KEY}}``), and the report that a served value was rejected.

Both are scoped to one organization (the caller's tenant) and counted in usage: a served value is a
success; a missing secret raises ``SecretNotFound`` (not counted: there is nothing to count against);
an inactive one ``SecretInactive`` and an undecryptable one ``SecretDecryptionFailed`` (both counted
as failures). Internal resolutions are not written to the audit log (they happen on every send); the
usage counters record them.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.common import decrypt_current, parse_service, record_usage
from domain.errors import DomainError, InvalidValue
from domain.vault import (
    MasterKeyMissing,
    Secret,
    SecretDecryptionFailed,
    SecretEnvironment,
    SecretInactive,
    SecretKey,
    SecretNotFound,
    SecretValue,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveSecretQuery:
    """By ``secret_id``, or by ``key`` + ``environment`` (default development, as on create) + ``service``."""

    organization_id: UUID
    secret_id: UUID | None = None
    key: str | None = None
    environment: SecretEnvironment = SecretEnvironment.DEVELOPMENT
    service: str | None = None
    count_usage: bool = True
    """False: the caller counts its uses of the value itself (one per message sent with it)."""


@dataclass(frozen=True, slots=True)
class ResolvedSecret:
    secret_id: UUID
    value: SecretValue  # masked in repr/str; ``value.reveal()`` gives the text


class ResolveSecret:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock) -> None:
        self._uow, self._cipher, self._clock = uow, cipher, clock

    async def execute(self, query: ResolveSecretQuery) -> ResolvedSecret:
        if (query.secret_id is None) == (query.key is None):
            raise InvalidValue("Resolve a secret by its id or by its key, not both.")
        now, org = self._clock.now(), query.organization_id
        failure: DomainError | None = None
        async with self._uow(org) as uow:
            secret: Secret | None
            if query.secret_id is not None:
                secret = await uow.secrets.get(query.secret_id)
            else:
                secret = await uow.secrets.get_by_key(SecretKey(str(query.key)), query.environment,
                                                      parse_service(query.service))
            if secret is None:
                raise SecretNotFound()
            try:
                secret.ensure_servable()
                value = await decrypt_current(uow, self._cipher, secret)
            except (SecretInactive, SecretDecryptionFailed, MasterKeyMissing) as error:
                failure = error
        if query.count_usage or failure is not None:
            await record_usage(self._uow, org, secret.id, success=failure is None, now=now)
        if failure is not None:
            raise failure
        return ResolvedSecret(secret.id, value)


class ReportSecretFailure:
    """A caller reports that the value it was served was rejected (e.g. Graph error 190): the success
    counted for it becomes a failure. Unknown secrets are ignored (nothing to count against)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, secret_id: UUID) -> None:
        async with self._uow(organization_id) as uow:
            if await uow.secrets.get(secret_id) is None:
                return
            await uow.secret_usage.reclassify_as_failure(secret_id, self._clock.now())
            await uow.commit()


class CountSecretUses:
    """Uses of a value resolved without counting (the sender resolves its token once per batch and counts
    one use per message sent, failures being the sends that Meta refused for the credential)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, secret_id: UUID, *, successes: int, failures: int) -> None:
        async with self._uow(organization_id) as uow:
            if await uow.secrets.get(secret_id) is None:
                return
            await uow.secret_usage.record_many(secret_id, successes=successes, failures=failures,
                                               now=self._clock.now())
            await uow.commit()


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
