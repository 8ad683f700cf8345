"""The WebhookDecoder port over the parser and signature check of this package."""

from __future__ import annotations

import json
from datetime import datetime

from adapters.whatsapp.webhook_parser import parse_webhook, verify_signature
from application.ports.channel import WebhookDecoder
from domain.messaging import WebhookEvent


class MetaWebhookDecoder(WebhookDecoder):
    def __init__(self, app_secret: str) -> None:
        self._app_secret = app_secret

    def verify_signature(self, raw_body: bytes, header: str | None) -> bool:
        return bool(self._app_secret) and verify_signature(self._app_secret, raw_body, header)

    def parse(self, raw_body: bytes, received_at: datetime) -> list[WebhookEvent]:
        try:
            payload = json.loads(raw_body)
        except ValueError:
            return []
        return parse_webhook(payload, received_at=received_at)
