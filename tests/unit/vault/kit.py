"""Every vault use case wired on the in-memory fakes (tests/fakes_vault.py) and the real AES-GCM cipher."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID, uuid4

from adapters.vault import AesGcmSecretCipher
from application.authorization import Actor
from application.use_cases.vault.activate_secret import ActivateSecret
from application.use_cases.vault.check_vault_seal import CheckVaultSeal
from application.use_cases.vault.count_secret_uses import CountSecretUses
from application.use_cases.vault.create_secret import CreateSecret, CreateSecretCommand
from application.use_cases.vault.deactivate_secret import DeactivateSecret
from application.use_cases.vault.delete_secret import DeleteSecret
from application.use_cases.vault.describe_vault import DescribeVault
from application.use_cases.vault.get_secret import GetSecret
from application.use_cases.vault.get_secret_usage import GetSecretUsage
from application.use_cases.vault.list_organization_usage import ListOrganizationUsage
from application.use_cases.vault.list_secrets import ListSecrets
from application.use_cases.vault.report_secret_failure import ReportSecretFailure
from application.use_cases.vault.resolve_secret import ResolveSecret
from application.use_cases.vault.reveal_value import RevealSecretValue
from application.use_cases.vault.rotate_master_key import RotateMasterKey
from application.use_cases.vault.rotate_secret import RotateSecret
from application.use_cases.vault.update_secret import UpdateSecret
from application.use_cases.vault.verify_secret import TestSecret
from domain.identity import Role
from domain.vault import Secret
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
        uow, clock, cipher = self.uow, self.clock, self.cipher
        self.list = ListSecrets(uow=uow)
        self.get = GetSecret(uow=uow)
        self.reveal = RevealSecretValue(uow=uow, cipher=cipher, clock=clock)
        self.create = CreateSecret(uow=uow, cipher=cipher, clock=clock)
        self.update = UpdateSecret(uow=uow, cipher=cipher, clock=clock)
        self.delete = DeleteSecret(uow=uow, clock=clock)
        self.rotate = RotateSecret(uow=uow, cipher=cipher, clock=clock)
        self.activate = ActivateSecret(uow=uow, clock=clock)
        self.deactivate = DeactivateSecret(uow=uow, clock=clock)
        self.test = TestSecret(uow=uow, cipher=cipher, clock=clock, checker=self.checker)
        self.usage = GetSecretUsage(uow=uow)
        self.org_usage = ListOrganizationUsage(uow=uow)
        self.resolve = ResolveSecret(uow=uow, cipher=cipher, clock=clock)
        self.report_failure = ReportSecretFailure(uow=uow, clock=clock)
        self.count_uses = CountSecretUses(uow=uow, clock=clock)
        self.rotate_master_key = RotateMasterKey(uow=uow, cipher=cipher, batch_size=3)
        self.describe = DescribeVault(uow=uow, cipher=cipher)
        self.seal = CheckVaultSeal(uow=uow, cipher=cipher)

    async def secret(self, who: Actor, key: str = "TOKEN", value: str = "value-1", **extra: str | None) -> Secret:
        return await self.create.execute(who, CreateSecretCommand(key=key, value=value, **extra))

    def audit(self) -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in self.uow.store.audit]

    def states(self, secret_id: UUID) -> dict[int, str]:
        return {v: row.state for (sid, v), row in sorted(self.uow.store.secret_versions.items()) if sid == secret_id}
