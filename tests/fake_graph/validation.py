"""Send-request validation the way the Cloud API answers it: 131008 missing, 131009 invalid, 100 too long."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tests.fake_graph.faults import GraphFault, bad_param, invalid, missing

SEND_TYPES = frozenset({"text", "template", "interactive", "image", "document", "video", "audio", "sticker",
                        "reaction", "location", "contacts"})
MEDIA_TYPES = frozenset({"image", "document", "video", "audio", "sticker"})
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")
_PHONE = re.compile(r"^\+?[\d\s\-()]{5,25}$")
_BSUID = re.compile(r"^[A-Z]{2}\.[A-Za-z0-9.]+$")


def recipient_key(body: Mapping[str, Any]) -> str | None:
    """The normalized recipient: digits of ``to``, else the BSUID in ``recipient``."""
    to = body.get("to")
    if isinstance(to, str):
        return re.sub(r"\D", "", to)
    recipient = body.get("recipient")
    return recipient if isinstance(recipient, str) else None


def validate_send(body: Mapping[str, Any]) -> GraphFault | None:
    if "messaging_product" not in body:
        return missing("messaging_product")
    if body["messaging_product"] != "whatsapp":
        return invalid("messaging_product must be 'whatsapp'.")
    if body.get("recipient_type", "individual") not in ("individual", "group"):
        return invalid("recipient_type must be 'individual' or 'group'.")
    fault = _recipient(body)
    if fault:
        return fault
    kind = body.get("type", "text")
    if kind not in SEND_TYPES:
        return bad_param(f"Param type must be one of {{{', '.join(sorted(SEND_TYPES))}}}.")
    content = body.get(kind)
    if kind == "contacts":
        return _contacts(content)
    if not isinstance(content, Mapping):
        return missing(str(kind))
    context = body.get("context")
    if context is not None and not (isinstance(context, Mapping)
                                    and isinstance(context.get("message_id"), str)):
        return invalid("context.message_id must be a message id.")
    tracking = body.get("biz_opaque_callback_data")
    if tracking is not None and not (isinstance(tracking, str) and len(tracking) <= 512):
        return bad_param("biz_opaque_callback_data must be a string of at most 512 characters.")
    if kind == "text":
        return _text(content)
    if kind == "template":
        return _template(content)
    if kind == "interactive":
        return _interactive(content)
    if kind in MEDIA_TYPES:
        return _media(kind, content)
    if kind == "reaction":
        return _reaction(content, body)
    if kind == "location":
        return _location(content)
    return None


def validate_read(body: Mapping[str, Any]) -> GraphFault | None:
    """Mark-as-read, optionally with the typing indicator (Meta:typing-indicators)."""
    if body.get("messaging_product") != "whatsapp":
        return missing("messaging_product")
    if not isinstance(body.get("message_id"), str) or not body["message_id"]:
        return missing("message_id")
    extra = set(body) - {"messaging_product", "status", "message_id", "typing_indicator"}
    if extra:
        return bad_param(f"Unexpected parameters: {', '.join(sorted(extra))}.")
    typing = body.get("typing_indicator")
    if typing is not None and typing != {"type": "text"}:
        return invalid("typing_indicator must be {'type': 'text'}.")
    return None


def _reaction(content: Mapping[str, Any], body: Mapping[str, Any]) -> GraphFault | None:
    if "context" in body:
        return bad_param("A reaction cannot reply to a message: give reaction['message_id'].")
    if not isinstance(content.get("message_id"), str) or not content["message_id"]:
        return missing("reaction['message_id']")
    if not isinstance(content.get("emoji"), str):
        return missing("reaction['emoji']")
    if set(content) - {"message_id", "emoji"}:
        return bad_param("Param reaction takes message_id and emoji only.")
    return None


def _degrees(value: Any, limit: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return False
    try:
        number = float(value)
    except ValueError:
        return False
    return -limit <= number <= limit


def _location(content: Mapping[str, Any]) -> GraphFault | None:
    for name, limit in (("latitude", 90.0), ("longitude", 180.0)):
        if name not in content:
            return missing(f"location['{name}']")
        if not _degrees(content[name], limit):
            return invalid(f"location['{name}'] must be decimal degrees.")
    for name in ("name", "address"):
        if name in content and not isinstance(content[name], str):
            return invalid(f"location['{name}'] must be a string.")
    if set(content) - {"latitude", "longitude", "name", "address"}:
        return bad_param("Param location takes latitude, longitude, name and address only.")
    return None


_CARD_FIELDS = frozenset({"name", "phones", "emails", "urls", "addresses", "org", "birthday"})


def _contacts(content: Any) -> GraphFault | None:
    if not isinstance(content, list) or not 1 <= len(content) <= 257:
        return invalid("contacts must be a list of 1 to 257 contact objects.")
    for card in content:
        if not isinstance(card, Mapping):
            return invalid("Each contact must be an object.")
        name = card.get("name")
        if not isinstance(name, Mapping) or not isinstance(name.get("formatted_name"), str) \
                or not name["formatted_name"]:
            return missing("contacts['name']['formatted_name']")
        if set(card) - _CARD_FIELDS:
            return bad_param(f"Unexpected contact fields: {', '.join(sorted(set(card) - _CARD_FIELDS))}.")
        for listed in ("phones", "emails", "urls", "addresses"):
            if listed in card and not (isinstance(card[listed], list)
                                       and all(isinstance(item, Mapping) for item in card[listed])):
                return invalid(f"contacts['{listed}'] must be a list of objects.")
    return None


def _recipient(body: Mapping[str, Any]) -> GraphFault | None:
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        return missing("to")
    if to is not None and not (isinstance(to, str) and _PHONE.match(to)):
        return bad_param("Param to must be a valid phone number.")
    if to is None and not (isinstance(recipient, str) and _BSUID.match(recipient)):
        return invalid("recipient must be a business-scoped user id.")
    return None


def _length(value: Any, name: str, maximum: int, *, minimum: int = 1) -> GraphFault | None:
    if not isinstance(value, str):
        return missing(name) if value is None else invalid(f"Param {name} must be a string.")
    if not minimum <= len(value) <= maximum:
        return bad_param(f"Param {name} must be between {minimum} and {maximum} characters long.")
    return None


def _text(content: Mapping[str, Any]) -> GraphFault | None:
    if "preview_url" in content and not isinstance(content["preview_url"], bool):
        return invalid("text['preview_url'] must be a boolean.")
    return _length(content.get("body"), "text['body']", 4096)


def _template(content: Mapping[str, Any]) -> GraphFault | None:
    name = content.get("name")
    if name is None:
        return missing("template['name']")
    if not (isinstance(name, str) and _TEMPLATE_NAME.match(name)):
        return bad_param("Template name must be lowercase letters, digits and underscores.")
    language = content.get("language")
    if not (isinstance(language, Mapping) and isinstance(language.get("code"), str) and language["code"]):
        return missing("template['language']['code']")
    components = content.get("components", [])
    if not (isinstance(components, list) and all(isinstance(item, Mapping) for item in components)):
        return invalid("template['components'] must be a list of objects.")
    return None


def _interactive(content: Mapping[str, Any]) -> GraphFault | None:
    kind = content.get("type")
    if kind not in ("button", "list"):
        if kind is None:
            return missing("interactive['type']")
        return invalid("interactive['type'] must be 'button' or 'list'.")
    body = content.get("body")
    fault = _length(body.get("text") if isinstance(body, Mapping) else None, "interactive['body']['text']",
                    1024 if kind == "button" else 4096)
    if fault:
        return fault
    footer = content.get("footer")
    if footer is not None:
        fault = _length(footer.get("text") if isinstance(footer, Mapping) else None, "footer['text']", 60)
        if fault:
            return fault
    header = content.get("header")
    if header is not None:
        fault = _header(kind, header)
        if fault:
            return fault
    action = content.get("action")
    if not isinstance(action, Mapping):
        return missing("interactive['action']")
    return _buttons(action) if kind == "button" else _list(action)


def _header(kind: str, header: Any) -> GraphFault | None:
    if not isinstance(header, Mapping):
        return invalid("header must be an object.")
    header_type = header.get("type")
    allowed = ("text", "image", "video", "document") if kind == "button" else ("text",)
    if header_type not in allowed:
        return invalid(f"header['type'] must be one of {', '.join(allowed)}.")
    if header_type == "text":
        return _length(header.get("text"), "header['text']", 60)
    media = header.get(header_type)
    if not isinstance(media, Mapping):
        return missing(f"header['{header_type}']")
    if "caption" in media:
        return bad_param(f"Param header['{header_type}']['caption'] is not allowed.")
    return _media(str(header_type), media)


def _buttons(action: Mapping[str, Any]) -> GraphFault | None:
    buttons = action.get("buttons")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        return invalid("Buttons count is invalid: 1 to 3 reply buttons are allowed.")
    titles, ids = set(), set()
    for button in buttons:
        reply = button.get("reply") if isinstance(button, Mapping) else None
        if not (isinstance(button, Mapping) and button.get("type") == "reply" and isinstance(reply, Mapping)):
            return invalid("Each button must be {'type': 'reply', 'reply': {...}}.")
        fault = _length(reply.get("title"), "reply['title']", 20)
        fault = fault or _length(reply.get("id"), "reply['id']", 256)
        if fault:
            return fault
        if reply["title"] in titles or reply["id"] in ids:
            return invalid("Button titles and ids must be unique.")
        titles.add(reply["title"])
        ids.add(reply["id"])
    return None


def _list(action: Mapping[str, Any]) -> GraphFault | None:
    fault = _length(action.get("button"), "action['button']", 20)
    if fault:
        return fault
    sections = action.get("sections")
    if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
        return invalid("Sections count is invalid: 1 to 10 sections are allowed.")
    row_ids: list[Any] = []
    for section in sections:
        rows = section.get("rows") if isinstance(section, Mapping) else None
        if not isinstance(rows, list) or not rows:
            return invalid("Each section needs at least one row.")
        if len(sections) > 1 or "title" in section:
            fault = _length(section.get("title"), "section['title']", 24)
            if fault:
                return fault
        for row in rows:
            if not isinstance(row, Mapping):
                return invalid("Each row must be an object.")
            fault = _length(row.get("title"), "row['title']", 24) or _length(row.get("id"), "row['id']", 200)
            if not fault and "description" in row:
                fault = _length(row["description"], "row['description']", 72, minimum=0)
            if fault:
                return fault
            row_ids.append(row["id"])
    if len(row_ids) > 10:
        return invalid("Rows count is invalid: at most 10 rows in total are allowed.")
    if len(set(row_ids)) != len(row_ids):
        return invalid("Row ids must be unique.")
    return None


def _media(kind: str, content: Mapping[str, Any]) -> GraphFault | None:
    link, media_id = content.get("link"), content.get("id")
    if media_id is not None and not (isinstance(media_id, str) and media_id.isdigit()):
        return invalid(f"{kind}['id'] must be a media id.")
    if link is None and media_id is None:
        return missing(f"{kind}['link'] or {kind}['id']")
    if link is not None and media_id is not None:
        return invalid(f"Give either {kind}['link'] or {kind}['id'], not both.")
    if link is not None and not (isinstance(link, str) and re.match(r"^https?://\S+$", link)):
        return invalid(f"{kind}['link'] must be an http(s) URL.")
    if "caption" in content:
        if kind in ("audio", "sticker"):
            return bad_param(f"Param {kind}['caption'] is not allowed.")
        fault = _length(content["caption"], f"{kind}['caption']", 1024)
        if fault:
            return fault
    if "filename" in content and kind != "document":
        return bad_param(f"Param {kind}['filename'] is not allowed.")
    return None


LEGACY_AREAS = frozenset(str(area) for area in range(31, 40))
"""Brazilian area codes whose (older) WhatsApp accounts the fake knows without the ninth digit."""


def canonical_wa_id(digits: str) -> str:
    """Meta's WhatsApp id for the number sent to (``contacts[0].wa_id`` of a send answer): as sent, except a
    Brazilian mobile of a :data:`LEGACY_AREAS` area code written with the ninth digit, which WhatsApp knows
    without it (``5531987654321`` -> ``553187654321``), as Meta answers for accounts made before the ninth digit."""
    if len(digits) == 13 and digits.startswith("55") and digits[2:4] in LEGACY_AREAS and digits[4] == "9" \
            and digits[5] in "6789":
        return digits[:4] + digits[5:]
    return digits
