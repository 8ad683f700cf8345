"""Meta's ``messages`` webhook JSON -> domain events, and the ``X-Hub-Signature-256`` check.

The parser never raises, whatever the JSON shape: pieces that cannot be routed or identified
(no ``phone_number_id``, no wamid, no sender) are skipped; messages of unknown or malformed types
become ``unsupported`` inbound messages so the contact still counts as having written.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.whatsapp.errors import PAUSE_CODES
from domain.messaging import (
    MEDIA_TYPES,
    ErrorDetail,
    InboundMessage,
    InboundMessageType,
    StatusUpdate,
    WebhookError,
    WebhookEvent,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="
_REPLY_KINDS = ("button_reply", "list_reply")
_KNOWN_TYPES = frozenset(kind.value for kind in InboundMessageType)


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of raw_body keyed by app_secret>``."""
    if not app_secret or not header:
        return False
    provided = header.strip()
    if not provided.startswith(_SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    candidate = provided[len(_SIGNATURE_PREFIX):].lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode("ascii"), candidate)


def parse_webhook(payload: object, *, received_at: datetime | None = None) -> list[WebhookEvent]:
    """Every inbound message, status update and value-level error of a ``messages`` webhook.

    ``received_at`` stands in for missing or unreadable timestamps (default: now, UTC).
    """
    fallback = received_at or datetime.now(UTC)
    if not isinstance(payload, Mapping):
        return []
    if payload.get("object", "whatsapp_business_account") != "whatsapp_business_account":
        return []
    events: list[WebhookEvent] = []
    for entry in _mappings(payload.get("entry")):
        for change in _mappings(entry.get("changes")):
            value = change.get("value")
            if change.get("field") == "messages" and isinstance(value, Mapping):
                events.extend(_parse_value(value, fallback))
    return events


def sender_keys(payload: object) -> tuple[str, ...]:
    """``phone_number_id:sender`` of every message of a ``messages`` webhook (statuses name nobody: their
    order does not matter, a message's status only moves forward). Never raises."""
    keys: set[str] = set()
    if not isinstance(payload, Mapping):
        return ()
    for entry in _mappings(payload.get("entry")):
        for change in _mappings(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, Mapping):
                continue
            metadata = value.get("metadata")
            number = _text(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
            for message in _mappings(value.get("messages")):
                sender = _text(message.get("from")) or _text(message.get("from_user_id"))
                if sender is not None:
                    keys.add(f"{number}:{sender}")
    return tuple(sorted(keys))


def _parse_value(value: Mapping[Any, Any], fallback: datetime) -> list[WebhookEvent]:
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    phone_number_id = _text(metadata.get("phone_number_id"))
    if phone_number_id is None:
        return []
    display = _text(metadata.get("display_phone_number"))
    contacts = _contacts(value.get("contacts"))
    events: list[WebhookEvent] = []
    for message in _mappings(value.get("messages")):
        inbound = _inbound(message, phone_number_id, display, contacts, fallback)
        if inbound is not None:
            events.append(inbound)
    for status in _mappings(value.get("statuses")):
        update = _status(status, phone_number_id, contacts, fallback)
        if update is not None:
            events.append(update)
    for error in _errors(value.get("errors")):
        events.append(WebhookError(phone_number_id=phone_number_id, code=error.code, title=error.title,
                                   details=error.details))
    return events


def _inbound(
    message: Mapping[Any, Any], phone_number_id: str, display: str | None,
    contacts: dict[str, Mapping[Any, Any]], fallback: datetime,
) -> InboundMessage | None:
    wamid = _text(message.get("id"))
    from_wa_id = _text(message.get("from"))
    contact = contacts.get(from_wa_id or "") or contacts.get(_text(message.get("from_user_id")) or "")
    if contact is None and len({id(item) for item in contacts.values()}) == 1:
        contact = next(iter(contacts.values()))
    contact = contact or {}
    from_user_id = _text(message.get("from_user_id")) or _text(contact.get("user_id"))
    if wamid is None or (from_wa_id is None and from_user_id is None):
        return None
    profile = contact.get("profile")
    context = message.get("context")
    context = context if isinstance(context, Mapping) else {}
    fields: dict[str, Any] = {"context_wamid": _text(context.get("id")),
                              "forwarded": context.get("forwarded") is True}
    fields.update(_content(message))
    return InboundMessage(
        phone_number_id=phone_number_id, display_phone_number=display, wamid=wamid, from_wa_id=from_wa_id,
        from_user_id=from_user_id,
        profile_name=_text(profile.get("name")) if isinstance(profile, Mapping) else None,
        timestamp=_timestamp(message.get("timestamp")) or fallback,
        errors=tuple(_errors(message.get("errors"))),
        **fields,
    )


def _content(message: Mapping[Any, Any]) -> dict[str, Any]:
    """``type`` plus text, reply_id, media fields (and the reacted-to wamid) of one message."""
    unsupported: dict[str, Any] = {"type": InboundMessageType.UNSUPPORTED}
    raw_type = message.get("type")
    if not isinstance(raw_type, str) or raw_type not in _KNOWN_TYPES:
        return unsupported
    kind = InboundMessageType(raw_type)
    body = message.get(kind.value)
    if kind is InboundMessageType.UNSUPPORTED or not isinstance(body, Mapping):
        return {"type": kind} if kind in _BODYLESS else unsupported
    if kind is InboundMessageType.TEXT:
        text = _text(body.get("body"))
        return {"type": kind, "text": text} if text is not None else unsupported
    if kind is InboundMessageType.INTERACTIVE:
        return _interactive(body) or unsupported
    if kind is InboundMessageType.BUTTON:
        return {"type": kind, "text": _text(body.get("text")), "reply_id": _text(body.get("payload"))}
    if kind in MEDIA_TYPES:
        return {"type": kind, "media_id": _text(body.get("id")),
                "media_mime_type": _text(body.get("mime_type")), "text": _text(body.get("caption"))}
    if kind is InboundMessageType.REACTION:
        return {"type": kind, "text": _text(body.get("emoji")),
                "context_wamid": _text(body.get("message_id"))}
    if kind is InboundMessageType.SYSTEM:
        return {"type": kind, "text": _text(body.get("body"))}
    return {"type": kind}


_BODYLESS = frozenset({InboundMessageType.UNSUPPORTED, InboundMessageType.REQUEST_WELCOME,
                       InboundMessageType.LOCATION, InboundMessageType.CONTACTS, InboundMessageType.ORDER})


def _interactive(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    for kind in _REPLY_KINDS:
        reply = body.get(kind)
        if body.get("type") == kind and isinstance(reply, Mapping):
            return {"type": InboundMessageType.INTERACTIVE, "text": _text(reply.get("title")),
                    "reply_id": _text(reply.get("id"))}
    nfm = body.get("nfm_reply")
    if isinstance(nfm, Mapping):  # a WhatsApp Flow was submitted
        return {"type": InboundMessageType.INTERACTIVE, "text": _text(nfm.get("body"))}
    return None


def _status(
    status: Mapping[Any, Any], phone_number_id: str, contacts: dict[str, Mapping[Any, Any]],
    fallback: datetime,
) -> StatusUpdate | None:
    wamid, value = _text(status.get("id")), _text(status.get("status"))
    if wamid is None or value is None:
        return None
    recipient = _text(status.get("recipient_id"))
    contact = contacts.get(recipient or "") or {}
    callback = status.get("biz_opaque_callback_data")
    return StatusUpdate(
        phone_number_id=phone_number_id, wamid=wamid, status=value,
        timestamp=_timestamp(status.get("timestamp")) or fallback, recipient_wa_id=recipient,
        recipient_user_id=_text(status.get("recipient_user_id")) or _text(contact.get("user_id")),
        biz_opaque_callback_data=callback if isinstance(callback, str) else None,
        errors=tuple(_errors(status.get("errors"))),
    )


def _contacts(raw: object) -> dict[str, Mapping[Any, Any]]:
    """Contacts by ``wa_id`` and by ``user_id``."""
    found: dict[str, Mapping[Any, Any]] = {}
    for contact in _mappings(raw):
        for key in ("wa_id", "user_id"):
            identifier = _text(contact.get(key))
            if identifier is not None:
                found.setdefault(identifier, contact)
    return found


def _errors(raw: object) -> list[ErrorDetail]:
    errors = []
    for error in _mappings(raw):
        code = error.get("code")
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if not isinstance(code, int) or isinstance(code, bool):
            continue
        data = error.get("error_data")
        details = _text(data.get("details")) if isinstance(data, Mapping) else None
        title = _text(error.get("title")) or _text(error.get("message")) or ""
        errors.append(ErrorDetail(code, title, details, PAUSE_CODES.get(code)))
    return errors


def _mappings(raw: object) -> list[Mapping[Any, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def _text(value: object) -> str | None:
    """A non-empty string field, storable as PostgreSQL text: NUL removed, a lone surrogate (JSON can
    escape one, UTF-8 cannot hold it) replaced by U+FFFD."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or not value:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "")
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value or None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _timestamp(value: object) -> datetime | None:
    seconds = _text(value)
    if seconds is None or not seconds.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None
