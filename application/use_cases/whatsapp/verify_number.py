"""Worker: verify a pending number; transient failures are retried by the queue."""

from __future__ import annotations

from uuid import UUID

from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import GraphAuthError, WhatsAppGateway
from application.use_cases.whatsapp.common import apply_details, enqueue_template_sync, store_proven_or_pending
from domain.channel import NumberStatus


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
