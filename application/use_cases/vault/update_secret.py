"""Update a secret (value, environment, service). Every change is audited; values never leave as text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from application.authorization import Actor, Permission
from application.messaging.outbound import resume_after_token_change
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import SecretCipher
from application.use_cases.vault.common import (
    AuditAction,
    Details,
    load_secret,
    parse_environment,
    parse_service,
    run_audited,
    store_new_version,
)
from domain.errors import InvalidValue
from domain.vault import UNSET, Secret, SecretValue


class NothingToUpdate(InvalidValue):
    code = "nothing_to_update"
    default_message = "Send at least one of value, environment or service."


@dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class UpdateSecretCommand:
    """Fields left as ``UNSET`` are not changed; ``service=None`` clears the service."""

    secret_id: UUID
    value: Any = UNSET
    environment: Any = UNSET
    service: Any = UNSET

    def __repr__(self) -> str:
        return f"UpdateSecretCommand(secret_id={self.secret_id}, value_given={self.value is not UNSET})"


class UpdateSecret:
    """A value change follows ``Secret.change_value`` (active -> rotated; 409 while rotated); metadata
    collisions with another secret give 409 ``secret_already_exists``. Status is never set here."""

    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock) -> None:
        self._uow, self._cipher, self._clock = uow, cipher, clock

    async def execute(self, actor: Actor, cmd: UpdateSecretCommand) -> Secret:
        actor.require(Permission.MANAGE_SECRETS)
        if cmd.value is UNSET and cmd.environment is UNSET and cmd.service is UNSET:
            raise NothingToUpdate()
        value = SecretValue(cmd.value) if cmd.value is not UNSET else None
        environment = parse_environment(cmd.environment) if cmd.environment not in (UNSET, None) else None
        service = parse_service(cmd.service) if cmd.service is not UNSET else UNSET

        async def work(uow: UnitOfWork, now: datetime) -> tuple[Secret, Details]:
            secret = await load_secret(uow, cmd.secret_id, for_update=True)
            fields = []
            if value is not None:
                change = secret.change_value(now)
                await store_new_version(uow, self._cipher, secret, change.new_version, change.released, value, now)
                await resume_after_token_change(uow, secret.id)  # numbers paused for an invalid token resume
                fields.append("value")
            if secret.update_metadata(now=now, environment=environment, service=service):
                fields.append("metadata")
            await uow.secrets.update(secret)
            return secret, {"changed": ",".join(fields) or "nothing", "version": secret.current_version,
                            "status": secret.status.value}

        return await run_audited(self._uow, self._clock, actor, AuditAction.UPDATE, cmd.secret_id, work)
