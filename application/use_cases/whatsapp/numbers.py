"""Register a WhatsApp number (checked against the Graph API) and list the organization's numbers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.jobs import VerifyNumber as VerifyNumberJob
from application.jobs import enqueue
from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import GraphAuthError, PhoneNumberDetails, WhatsAppGateway
from application.use_cases.whatsapp.templates import enqueue_template_sync
from domain.channel import NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered, WhatsAppNumberNotFound
from domain.errors import InvalidValue, Unavailable

THROUGHPUT_BY_LEVEL = {"STANDARD": 80, "HIGH": 1000}
SUPERSEDED = "Superseded: another organization proved with the Graph API that it owns this phone_number_id."
OWNED_ELSEWHERE = "Another organization proved with the Graph API that it owns this phone_number_id first."


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterNumberCommand:
    phone_number_id: str
    access_token_secret_id: UUID
    waba_id: str | None = None


def apply_details(number: WhatsAppNumber, details: PhoneNumberDetails, default_mps: int) -> None:
    number.phone_number = details.display_phone_number or number.phone_number
    number.display_name = details.verified_name or number.display_name
    number.verified = (details.code_verification_status or "").upper() == "VERIFIED"
    number.quality_rating = details.quality_rating
    number.throughput_mps = THROUGHPUT_BY_LEVEL.get((details.throughput_level or "").upper(), default_mps)
    number.status = NumberStatus.ACTIVE
    number.last_error = None


async def store_proven_or_pending(uow: UnitOfWork, number: WhatsAppNumber, now: datetime, *, new: bool) -> None:
    """Add or update ``number`` in a system-scope unit of work. A proven (active) number takes its phone_number_id
    over from other organizations' unproven registrations; losing to one proven elsewhere meanwhile leaves it
    ``inactive``. Only proven numbers receive webhooks."""
    try:
        await (uow.numbers.add(number) if new else uow.numbers.update(number))
    except WhatsAppNumberAlreadyRegistered:
        if new or number.status is not NumberStatus.ACTIVE:
            raise
        number.status, number.last_error = NumberStatus.INACTIVE, OWNED_ELSEWHERE
        await uow.numbers.update(number)
        return
    if number.status is NumberStatus.ACTIVE:
        await uow.numbers.supersede_unproven_any_org(
            number.phone_number_id, owner_organization_id=number.organization_id, reason=SUPERSEDED, now=now)


class RegisterNumber:
    """Verifies at once when Meta answers; when it cannot be reached the number stays ``pending`` (it receives no
    webhooks) and a queued job verifies it later. A verified registration takes the phone_number_id over from
    unverified ones in other organizations."""

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver, clock: Clock,
                 default_mps: int = 80) -> None:
        self._uow, self._gateway, self._secrets, self._clock = uow, gateway, secrets, clock
        self._default_mps = default_mps

    async def execute(self, actor: Actor, cmd: RegisterNumberCommand) -> WhatsAppNumber:
        actor.require(Permission.MANAGE_FLOWS)
        pnid = cmd.phone_number_id.strip()
        if not pnid.isdigit() or len(pnid) > 32:
            raise InvalidValue("phone_number_id is the numeric id Meta shows for the number.")
        async with self._uow() as uow:
            if await uow.numbers.get_by_phone_number_id_any_org(pnid) is not None:
                raise WhatsAppNumberAlreadyRegistered()
        token = await self._secrets.resolve(actor.organization_id, cmd.access_token_secret_id)
        now = self._clock.now()
        number = WhatsAppNumber(id=uuid4(), organization_id=actor.organization_id, phone_number_id=pnid,
                                waba_id=cmd.waba_id, phone_number="", display_name="", status=NumberStatus.PENDING,
                                verified=False, access_token_secret_id=cmd.access_token_secret_id,
                                throughput_mps=self._default_mps, created_at=now, updated_at=now)
        try:
            apply_details(number, await self._gateway.get_phone_number(pnid, token), self._default_mps)
        except GraphAuthError:
            await self._secrets.report_failure(actor.organization_id, cmd.access_token_secret_id)
            raise
        except Unavailable as error:
            number.last_error = f"Verification pending: {error.message}"[:500]
        async with self._uow() as uow:  # system scope: the takeover touches other organizations' rows
            await store_proven_or_pending(uow, number, now, new=True)
            if number.status is NumberStatus.PENDING:
                await enqueue(uow, VerifyNumberJob(organization_id=actor.organization_id, number_id=number.id),
                              dedupe_key=f"verify:{number.id}")
            elif number.status is NumberStatus.ACTIVE:  # a verified number's templates are read at once
                await enqueue_template_sync(uow, number)
            await uow.commit()
        return number


class VerifyNumber:
    """Worker: verify a pending number; transient failures are retried by the queue."""

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver, clock: Clock,
                 default_mps: int = 80) -> None:
        self._uow, self._gateway, self._secrets, self._clock = uow, gateway, secrets, clock
        self._default_mps = default_mps

    async def execute(self, organization_id: UUID, number_id: UUID) -> None:
        async with self._uow(organization_id) as uow:
            number = await uow.numbers.get(number_id)
        if number is None or number.status is not NumberStatus.PENDING:
            return
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        try:
            details = await self._gateway.get_phone_number(number.phone_number_id, token)
        except GraphAuthError as error:
            await self._secrets.report_failure(organization_id, number.access_token_secret_id)
            number.last_error = error.message[:500]
            number.status = NumberStatus.INACTIVE
        else:
            apply_details(number, details, self._default_mps)
        number.updated_at = now = self._clock.now()
        async with self._uow() as uow:  # system scope, as at registration
            await store_proven_or_pending(uow, number, now, new=False)
            if number.status is NumberStatus.ACTIVE:
                await enqueue_template_sync(uow, number)
            await uow.commit()


class GiveUpNumberVerification:
    """The verification job failed for good: a number still ``pending`` becomes ``inactive`` with the reason in
    ``last_error`` (register it again once Meta answers)."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, organization_id: UUID, number_id: UUID, reason: str) -> bool:
        async with self._uow(organization_id) as uow:
            number = await uow.numbers.get(number_id)
            if number is None or number.status is not NumberStatus.PENDING:
                return False
            number.status, number.last_error = NumberStatus.INACTIVE, reason[:500]
            number.updated_at = self._clock.now()
            await uow.numbers.update(number)
            await uow.commit()
        return True


class ListNumbers:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[WhatsAppNumber], int]:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            return await uow.numbers.list(limit=limit, offset=offset)


class GetNumber:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def execute(self, actor: Actor, number_id: UUID) -> WhatsAppNumber:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            number = await uow.numbers.get(number_id)
        if number is None:
            raise WhatsAppNumberNotFound()
        return number
