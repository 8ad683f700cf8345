"""Register a WhatsApp number (checked against the Graph API)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.jobs import VerifyNumber as VerifyNumberJob
from application.jobs import enqueue
from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import GraphAuthError, WhatsAppGateway
from application.use_cases.whatsapp.common import apply_details, enqueue_template_sync, store_proven_or_pending
from domain.channel import NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from domain.errors import InvalidValue, Unavailable


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterNumberCommand:
    phone_number_id: str
    access_token_secret_id: UUID
    waba_id: str | None = None


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
