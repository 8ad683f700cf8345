"""WhatsApp Cloud API adapters: the aiohttp Graph client and the webhook payload parser."""

from adapters.whatsapp.graph_client import DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, AiohttpWhatsAppGateway
from adapters.whatsapp.webhook_parser import parse_webhook, verify_signature

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_GRAPH_URL",
    "AiohttpWhatsAppGateway",
    "parse_webhook",
    "verify_signature",
]
