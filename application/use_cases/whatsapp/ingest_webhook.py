"""Webhook ingress: verify the signature, then store the raw delivery in the inbox (one statement).

The stored delivery is the worker's work item: there is no job row per webhook. Who the delivery is about
(its senders) is stored with it, so the worker can keep one sender's messages in order.
"""

from __future__ import annotations

import hashlib
from uuid import UUID, uuid4

from application.ports.channel import InboxItem, WebhookDecoder, WebhookInbox
from application.ports.common import Clock
from domain.errors import Unauthenticated


class InvalidWebhookSignature(Unauthenticated):
    code = "invalid_signature"
    default_message = "Missing or invalid X-Hub-Signature-256."


class IngestWebhook:
    def __init__(self, *, inbox: WebhookInbox, decoder: WebhookDecoder, clock: Clock) -> None:
        self._inbox, self._decoder, self._clock = inbox, decoder, clock

    async def execute(self, raw_body: bytes, signature: str | None) -> UUID | None:
        """Returns the stored delivery's id, or None for a redelivery of an identical body."""
        if not self._decoder.verify_signature(raw_body, signature):
            raise InvalidWebhookSignature()
        item = InboxItem(id=uuid4(), body=raw_body, body_sha256=hashlib.sha256(raw_body).hexdigest(),
                         received_at=self._clock.now(), sender_keys=self._decoder.sender_keys(raw_body))
        return item.id if await self._inbox.add(item) else None
