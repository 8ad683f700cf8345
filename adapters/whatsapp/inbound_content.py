"""What one inbound message carries, from Meta's ``messages[]`` shapes: its type, the text a flow sees, the
reply id, and everything else as JSON-ready ``details`` (stored in the message's content as they are).

Never raises: a missing or malformed piece is left out; an unknown or malformed type is ``unsupported``.
Strings are cleaned to what PostgreSQL can store (no NUL, no lone surrogate) and nested JSON (shared
contacts, orders, referrals, a Flow's ``response_json``) is kept within size bounds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from domain.messaging import MEDIA_TYPES, InboundMessageType

_KNOWN_TYPES = frozenset(kind.value for kind in InboundMessageType)
_REPLY_KINDS = ("button_reply", "list_reply")
_BODYLESS = frozenset({InboundMessageType.UNSUPPORTED, InboundMessageType.REQUEST_WELCOME})
_MEDIA_FIELDS = ("id", "mime_type", "sha256", "filename", "caption", "voice", "animated")
_MAX_DEPTH = 8
_MAX_ITEMS = 200
_MAX_STRING = 16_384
_MAX_FLOW_RESPONSE = 64 * 1024


def message_content(message: Mapping[Any, Any]) -> dict[str, Any]:
    """``type``, ``text``, ``reply_id``, ``media_id``, ``media_mime_type``, ``target_wamid`` and ``details`` of
    one message (only the keys that apply)."""
    content = _by_type(message)
    details: dict[str, Any] = content.setdefault("details", {})
    referral = clean_json(message.get("referral"))
    if isinstance(referral, dict) and referral:  # a click-to-WhatsApp ad the contact came from
        details["referral"] = referral
    context = message.get("context")
    if isinstance(context, Mapping):
        product = clean_json(context.get("referred_product"))
        if isinstance(product, dict) and product:  # "Message business" from a catalog product
            details["referred_product"] = product
    if not details:
        del content["details"]
    return content


def _by_type(message: Mapping[Any, Any]) -> dict[str, Any]:
    unsupported: dict[str, Any] = {"type": InboundMessageType.UNSUPPORTED}
    raw_type = message.get("type")
    if not isinstance(raw_type, str) or raw_type not in _KNOWN_TYPES:
        return unsupported
    kind = InboundMessageType(raw_type)
    if kind is InboundMessageType.CONTACTS:  # a list of vCards, not an object
        return shared_contacts(message) or unsupported
    body = message.get(kind.value)
    if kind in _BODYLESS or not isinstance(body, Mapping):
        return {"type": kind} if kind in _BODYLESS else unsupported
    handler = _HANDLERS.get(kind)
    if handler is None:
        return {"type": kind, "text": clean_text(body.get("body"))} if kind is InboundMessageType.SYSTEM \
            else {"type": kind}
    found = handler(body)
    return {"type": kind, **found} if found is not None else unsupported


def _text(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    text = clean_text(body.get("body"))
    return {"text": text} if text is not None else None


def _interactive(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    for kind in _REPLY_KINDS:
        reply = body.get(kind)
        if body.get("type") == kind and isinstance(reply, Mapping):
            kept = {k: v for k in ("id", "title", "description") if (v := clean_text(reply.get(k))) is not None}
            return {"text": kept.get("title"), "reply_id": kept.get("id"), "details": {kind: kept}}
    nfm = body.get("nfm_reply")
    if isinstance(nfm, Mapping):  # a WhatsApp Flow was submitted
        name, text = clean_text(nfm.get("name")), clean_text(nfm.get("body"))
        submitted: dict[str, Any] = {k: v for k, v in (("name", name), ("body", text)) if v is not None}
        response = _flow_response(nfm.get("response_json"))
        if response is not None:
            submitted["response"] = response
        return {"text": text, "details": {"nfm_reply": submitted}}
    return None


def _flow_response(raw: object) -> Any:
    """A Flow's ``response_json`` (a JSON string) parsed; kept as text when it does not parse."""
    if isinstance(raw, Mapping):
        return clean_json(raw)
    if not isinstance(raw, str) or not raw or len(raw) > _MAX_FLOW_RESPONSE:
        return clean_text(raw[:_MAX_STRING]) if isinstance(raw, str) and raw else None
    try:
        return clean_json(json.loads(raw))
    except (ValueError, RecursionError):
        return clean_text(raw)


def _button(body: Mapping[Any, Any]) -> dict[str, Any]:
    return {"text": clean_text(body.get("text")), "reply_id": clean_text(body.get("payload"))}


def _media(body: Mapping[Any, Any]) -> dict[str, Any]:
    media: dict[str, Any] = {}
    for name in _MEDIA_FIELDS:
        value = body.get(name)
        if name in ("voice", "animated"):
            if isinstance(value, bool):
                media[name] = value
        elif (text := clean_text(value)) is not None:
            media[name] = text
    return {"text": media.get("caption"), "media_id": media.get("id"), "media_mime_type": media.get("mime_type"),
            "details": {"media": media}}


def _location(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    location: dict[str, Any] = {}
    for name in ("latitude", "longitude"):
        value = body.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            location[name] = value
        elif isinstance(value, str):
            try:
                location[name] = float(value)
            except ValueError:
                pass
    for name in ("name", "address", "url"):
        if (text := clean_text(body.get(name))) is not None:
            location[name] = text
    if not location:
        return None
    label = ", ".join(v for k in ("name", "address") if (v := location.get(k)))
    if not label and "latitude" in location and "longitude" in location:
        label = f"{location['latitude']},{location['longitude']}"
    return {"text": label or None, "details": {"location": location}}


def _reaction(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    target = clean_text(body.get("message_id"))
    if target is None:
        return None
    return {"text": clean_text(body.get("emoji")), "target_wamid": target}  # no emoji: the reaction was removed


def _edit(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    target = clean_text(body.get("original_message_id"))
    inner = body.get("message")
    if target is None or not isinstance(inner, Mapping):
        return None
    new = message_content(inner)
    if new["type"] is InboundMessageType.UNSUPPORTED or new["type"] in (InboundMessageType.EDIT,
                                                                         InboundMessageType.REVOKE):
        return None
    details = dict(new.get("details", {}))
    details["type"] = new["type"].value
    return {"text": new.get("text"), "reply_id": new.get("reply_id"), "media_id": new.get("media_id"),
            "media_mime_type": new.get("media_mime_type"), "target_wamid": target, "details": details}


def _revoke(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    target = clean_text(body.get("original_message_id"))
    return {"target_wamid": target} if target is not None else None


def _order(body: Mapping[Any, Any]) -> dict[str, Any] | None:
    order = clean_json(body)
    if not isinstance(order, dict) or not order:
        return None
    text = order.get("text")
    return {"text": text if isinstance(text, str) else None, "details": {"order": order}}


_HANDLERS: dict[InboundMessageType, Any] = {
    InboundMessageType.TEXT: _text,
    InboundMessageType.INTERACTIVE: _interactive,
    InboundMessageType.BUTTON: _button,
    InboundMessageType.LOCATION: _location,
    InboundMessageType.REACTION: _reaction,
    InboundMessageType.EDIT: _edit,
    InboundMessageType.REVOKE: _revoke,
    InboundMessageType.ORDER: _order,
    **dict.fromkeys(MEDIA_TYPES, _media),
}


def shared_contacts(message: Mapping[Any, Any]) -> dict[str, Any] | None:
    """A ``contacts`` message: the vCards as sent (names, phones, emails, org, urls, addresses, birthday);
    the text is the cards' formatted names."""
    cards = clean_json(message.get("contacts"))
    if not isinstance(cards, list):
        return None
    cards = [card for card in cards if isinstance(card, dict) and card]
    if not cards:
        return None
    names = []
    for card in cards:
        name = card.get("name")
        formatted = name.get("formatted_name") if isinstance(name, dict) else None
        if isinstance(formatted, str):
            names.append(formatted)
    return {"type": InboundMessageType.CONTACTS, "text": ", ".join(names) or None,
            "details": {"contacts": cards}}


def clean_text(value: object) -> str | None:
    """A non-empty string field, storable as PostgreSQL text: NUL removed, a lone surrogate (JSON can
    escape one, UTF-8 cannot hold it) replaced by U+FFFD; an int becomes its digits."""
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


def clean_json(value: object, depth: int = 0) -> Any:
    """``value`` as storable JSON: strings cleaned and bounded, at most ``_MAX_ITEMS`` items per list or
    object, ``_MAX_DEPTH`` levels; what is not JSON (or is too deep) is dropped (None)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        return clean_text(value[:_MAX_STRING])
    if depth >= _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        kept: dict[str, Any] = {}
        for key, item in list(value.items())[:_MAX_ITEMS]:
            name = clean_text(key) if isinstance(key, str) else None
            cleaned = clean_json(item, depth + 1)
            if name is not None and cleaned is not None:
                kept[name] = cleaned
        return kept
    if isinstance(value, list):
        items = (clean_json(item, depth + 1) for item in value[:_MAX_ITEMS])
        return [item for item in items if item is not None]
    return None
