"""Worker: send the read receipt (with the typing indicator when asked)."""

from __future__ import annotations

from uuid import UUID

from application.ports.channel import SecretResolver
from application.ports.uow import UnitOfWorkFactory
from application.ports.whatsapp import WhatsAppGateway


class RunMarkRead:
    """Worker: send the read receipt (with the typing indicator when asked)."""

    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver) -> None:
        self._uow, self._gateway, self._secrets = uow, gateway, secrets

    async def execute(self, organization_id: UUID, message_id: UUID, typing: bool) -> bool:
        async with self._uow(organization_id) as uow:
            message = await uow.messages.get(message_id)
            number = await uow.numbers.get(message.number_id) if message is not None else None
        if message is None or number is None or not message.wamid:
            return False
        token = await self._secrets.resolve(organization_id, number.access_token_secret_id)
        await self._gateway.mark_read(number.phone_number_id, token, message.wamid, typing=typing)
        return True
