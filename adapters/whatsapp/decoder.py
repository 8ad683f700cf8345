"""The WebhookDecoder port over the parser and signature check of this package."""

from __future__ import annotations

import json
from datetime import datetime

import orjson

from adapters.whatsapp.template_webhooks import MARKER, parse_template_changes
from adapters.whatsapp.webhook_parser import parse_webhook, sender_keys, verify_signature
from application.ports.channel import WebhookDecoder
from application.ports.templates import TemplateChange
from domain.messaging import WebhookEvent


class MetaWebhookDecoder(WebhookDecoder):
    def __init__(self, app_secret: str) -> None:
        self._app_secret = app_secret

    def verify_signature(self, raw_body: bytes, header: str | None) -> bool:
        return bool(self._app_secret) and verify_signature(self._app_secret, raw_body, header)

    def parse(self, raw_body: bytes, received_at: datetime) -> list[WebhookEvent]:
        payload = _load(raw_body)
        return [] if payload is None else parse_webhook(payload, received_at=received_at)

    def template_changes(self, raw_body: bytes) -> list[TemplateChange]:
        if MARKER not in raw_body:
            return []
        payload = _load(raw_body)
        return [] if payload is None else parse_template_changes(payload)

    def sender_keys(self, raw_body: bytes) -> tuple[str, ...]:
        payload = _load(raw_body)
        return () if payload is None else sender_keys(payload)


def _load(raw_body: bytes) -> object | None:
    """orjson (fast); the standard library for what orjson refuses but JSON allows (an escaped lone
    surrogate), which the parser then cleans; None when it is not JSON at all."""
    try:
        loaded: object = orjson.loads(raw_body)
        return loaded
    except orjson.JSONDecodeError:
        pass
    try:
        parsed: object = json.loads(raw_body)
        return parsed
    except ValueError:
        return None
