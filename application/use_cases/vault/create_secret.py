"""Create a secret. Every change is audited; values never leave as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.common import (
    AuditAction,
    Details,
    parse_environment,
    parse_service,
    run_audited,
    store_new_version,
)
from domain.vault import Secret, SecretEnvironment, SecretKey, SecretValue


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CreateSecretCommand:
    key: str
    value: str
    environment: str | None = None
    service: str | None = None

    def __repr__(self) -> str:
        return f"CreateSecretCommand(key={self.key!r}, environment={self.environment!r}, service={self.service!r})"


class CreateSecret:
    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock) -> None:
        self._uow, self._cipher, self._clock = uow, cipher, clock

    async def execute(self, actor: Actor, cmd: CreateSecretCommand) -> Secret:
        actor.require(Permission.MANAGE_SECRETS)
        key, value = SecretKey(cmd.key), SecretValue(cmd.value)
        environment = parse_environment(cmd.environment) or SecretEnvironment.DEVELOPMENT
        service = parse_service(cmd.service)

        async def work(uow: UnitOfWork, now: datetime) -> tuple[Secret, Details]:
            secret = Secret.create(id=uuid4(), organization_id=actor.organization_id, key=key, now=now,
                                   environment=environment, service=service, created_by=actor.user_id)
            await uow.secrets.add(secret)
            await store_new_version(uow, self._cipher, secret, secret.current_version, (), value, now)
            return secret, {"key": key.value, "environment": environment.value,
                            "service": service.value if service else None, "version": secret.current_version}

        return await run_audited(self._uow, self._clock, actor, AuditAction.CREATE, None, work)
