"""``POST /secrets/{id}/test``: check a secret without serving it.

``decrypt`` proves integrity (unwrap + authenticated decryption); ``format`` is a cheap shape check;
``whatsapp_token`` asks the Graph API (a fixed, configured host: no URL ever comes from the request).
The default comes from the service: ``whatsapp`` -> ``whatsapp_token``, anything else -> ``decrypt``.
A passing test while ``rotated`` promotes the secret to ``active``; an inconclusive provider answer
(timeout, 5xx, rate limit) is reported as ``valid: false`` with a message starting "inconclusive" and
changes nothing. Tests are audited and never counted in usage, and limited to five a minute per secret (429,
counted in the database). The provider is called outside any database transaction; the outcome only applies if
the value did not change meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.vault import CredentialCheck, ProviderCredentialChecker, SecretCipher
from application.use_cases.vault.common import AuditAction, Details, decrypt_current, load_secret, run_audited
from domain.errors import InvalidValue, Throttled
from domain.vault import Secret, SecretDecryptionFailed, SecretService, SecretValue

TEST_TYPES: Final = ("decrypt", "format", "whatsapp_token")
TESTS_PER_MINUTE: Final = 5  # per secret, whatever the test type
_META_TOKEN = re.compile(r"EAA[A-Za-z0-9]{16,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UnknownTestType(InvalidValue):
    code = "unknown_test_type"
    default_message = "test_type must be one of decrypt, format, whatsapp_token."


class SecretTestThrottled(Throttled):
    code = "too_many_secret_tests"
    default_message = "This secret was tested too often; try again later."


@dataclass(frozen=True, slots=True)
class SecretTestResult:
    valid: bool
    message: str


def default_test_type(service: SecretService | None) -> str:
    return "whatsapp_token" if service is not None and service.value == "whatsapp" else "decrypt"


def check_format(value: SecretValue, service: SecretService | None, test_type: str) -> CredentialCheck:
    text = value.reveal()
    if text != text.strip() or _CONTROL.search(text):
        return CredentialCheck(False, "format: the value has surrounding whitespace or control characters")
    wants_meta = test_type == "whatsapp_token" or (service is not None and service.value == "whatsapp")
    if wants_meta and _META_TOKEN.fullmatch(text) is None:
        return CredentialCheck(False, "format: not shaped like a Meta access token (EAA followed by letters "
                                      "and digits)")
    return CredentialCheck(True, "format looks valid; no provider check")


class TestSecret:
    __test__ = False  # not a pytest test class

    def __init__(self, *, uow: UnitOfWorkFactory, cipher: SecretCipher, clock: Clock,
                 checker: ProviderCredentialChecker, tests_per_minute: int = TESTS_PER_MINUTE) -> None:
        self._uow, self._cipher, self._clock, self._checker = uow, cipher, clock, checker
        self._tests_per_minute = tests_per_minute

    async def execute(self, actor: Actor, secret_id: UUID, test_type: str | None = None) -> SecretTestResult:
        actor.require(Permission.MANAGE_SECRETS)
        if test_type is not None and test_type not in TEST_TYPES:
            raise UnknownTestType()
        async with self._uow(actor.organization_id) as uow:
            secret = await load_secret(uow, secret_id)
            wait = await uow.login_throttle.count_hit(f"secret-test:{secret_id}", self._clock.now(),
                                                      limit=self._tests_per_minute, window_seconds=60)
            await uow.commit()
            if wait > 0:  # a provider check spends the tenant's token at Meta: counted in the database, per secret
                raise SecretTestThrottled(retry_after_seconds=wait)
            kind = test_type or default_test_type(secret.service)
            tested_version = secret.current_version
            try:
                value: SecretValue | None = await decrypt_current(uow, self._cipher, secret)
            except SecretDecryptionFailed:
                value = None
        outcome = await self._check(kind, value, secret.service)

        async def work(unit: UnitOfWork, now: datetime) -> tuple[Secret, Details]:
            current = await load_secret(unit, secret_id, for_update=True)
            applies = outcome.valid is not None and current.current_version == tested_version
            if applies:
                change = current.record_test(bool(outcome.valid), now)
                await unit.secrets.release_versions(current.id, change.released, now)
                await unit.secrets.update(current)
            return current, {"test_type": kind, "version": tested_version, "valid": outcome.valid,
                             "applied": applies, "status": current.status.value}

        await run_audited(self._uow, self._clock, actor, AuditAction.TEST, secret_id, work)
        return SecretTestResult(valid=bool(outcome.valid), message=outcome.message)

    async def _check(self, kind: str, value: SecretValue | None, service: SecretService | None) -> CredentialCheck:
        if value is None:
            return CredentialCheck(False, "decryption failed: the stored value did not pass its integrity check")
        if kind == "decrypt":
            return CredentialCheck(True, "decryptable; no provider check")
        if kind == "format":
            return check_format(value, service, kind)
        shape = check_format(value, None, "plain")
        if not shape.valid:
            return shape
        if not value.reveal().isascii():  # an HTTP header cannot carry it (it was a 500)
            return CredentialCheck(False, "format: a bearer token is ASCII; the value has other characters")
        return await self._checker.check_whatsapp_token(value.reveal())
