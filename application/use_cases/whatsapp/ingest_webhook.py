"""Webhook ingress: verify the signature, store the raw body and enqueue its processing in one transaction."""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid4

from application.ports.channel import WebhookDecoder
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.whatsapp.jobs import PROCESS_WEBHOOK_JOB
from application.use_cases.whatsapp.requeue_webhooks import webhook_job_key
from domain.errors import Unauthenticated


class InvalidWebhookSignature(Unauthenticated):
    code = "invalid_signature"
    default_message = "Missing or invalid X-Hub-Signature-256."


class IngestWebhook:
    def __init__(self, *, uow: UnitOfWorkFactory, decoder: WebhookDecoder, clock: Clock) -> None:
        self._uow, self._decoder, self._clock = uow, decoder, clock

    async def execute(self, raw_body: bytes, signature: str | None) -> UUID | None:
        """Returns the stored event id, or None for a redelivery of an identical body."""
        if not self._decoder.verify_signature(raw_body, signature):
            raise InvalidWebhookSignature()
        event_id = uuid4()
        async with self._uow() as uow:
            stored = await uow.webhook_events.add(event_id=event_id, body=raw_body,
                                                  body_sha256=hashlib.sha256(raw_body).hexdigest(),
                                                  received_at=self._clock.now())
            if not stored:
                return None
            await uow.jobs.enqueue(PROCESS_WEBHOOK_JOB, {"event_id": str(event_id)},
                                   dedupe_key=webhook_job_key(event_id))
            await uow.commit()
        return event_id
