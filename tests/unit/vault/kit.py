"""Every vault use case wired on the in-memory fakes (tests/fakes_vault.py) and the real AES-GCM cipher."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from adapters.vault import AesGcmSecretCipher
from application.authorization import Actor
from application.use_cases.vault.check_vault_seal import CheckVaultSeal
from application.use_cases.vault.create_secret import CreateSecretCommand
from domain.identity import Role
from domain.vault import Secret
from tests.bootstrap import bootstrap_test_app
from tests.fake_uow import FakeUnitOfWorkFactory
from tests.fakes import FakeClock
from tests.fakes_vault import StubCredentialChecker


def actor(organization_id: UUID | None = None, role: Role = Role.ORG_ADMIN) -> Actor:
    return Actor(user_id=uuid4(), organization_id=organization_id or uuid4(), role=role, session_id=uuid4(),
                 jti=uuid4().hex, token_expires_at=FakeClock().now() + timedelta(minutes=15))


@dataclass
class Vault:
    uow: FakeUnitOfWorkFactory = field(default_factory=FakeUnitOfWorkFactory)
    clock: FakeClock = field(default_factory=FakeClock)
    cipher: AesGcmSecretCipher = field(default_factory=lambda: AesGcmSecretCipher({1: os.urandom(32)}))
    checker: StubCredentialChecker = field(default_factory=StubCredentialChecker)

    def __post_init__(self) -> None:
        """Every vault use case from the production container (tests/bootstrap.py) on this kit's fakes."""
        app = bootstrap_test_app(uow=self.uow, clock=self.clock, vault_cipher=self.cipher,
                                 vault_token_checker=self.checker,
                                 arguments={"rotate_master_key": {"batch_size": 3}})
        self.list = app.list_secrets
        self.get = app.get_secret
        self.reveal = app.reveal_secret_value
        self.create = app.create_secret
        self.update = app.update_secret
        self.delete = app.delete_secret
        self.rotate = app.rotate_secret
        self.activate = app.activate_secret
        self.deactivate = app.deactivate_secret
        self.test = app.test_secret
        self.usage = app.get_secret_usage
        self.org_usage = app.list_organization_usage
        self.resolve = app.resolve_secret
        self.report_failure = app.report_secret_failure
        self.count_uses = app.count_secret_uses
        self.rotate_master_key = app.rotate_master_key
        self.describe = app.describe_vault
        self.seal = CheckVaultSeal(uow=self.uow, cipher=self.cipher)  # the container runs it (a Coroutine)

    async def secret(self, who: Actor, key: str = "TOKEN", value: str = "value-1", **extra: str | None) -> Secret:
        created: Secret = await self.create.execute(who, CreateSecretCommand(key=key, value=value, **extra))
        return created

    def audit(self) -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in self.uow.store.audit]

    def states(self, secret_id: UUID) -> dict[int, str]:
        return {v: row.state for (sid, v), row in sorted(self.uow.store.secret_versions.items()) if sid == secret_id}
