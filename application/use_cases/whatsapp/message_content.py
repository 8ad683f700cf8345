"""What ``POST /whatsapp/send`` may queue, checked against WhatsApp's documented limits, as stored content.

The stored content is what the sender turns into Meta's request (``send_queued_messages._call``):

- ``text``: ``{"text", "preview_url"?}``; ``template``: ``{"template": {"name", "language", "components"}}``;
- ``interactive`` (reply buttons): ``{"text", "buttons", "header"?, "footer"?}``, the header being
  ``{"type": "text", "text"}`` or ``{"type": "image"|"video"|"document", "media_id"|"link", "filename"?}``;
- ``image``/``video``/``audio``/``document``/``sticker``: ``{"media_id"|"link", "caption"?, "filename"?}``;
- ``reaction``: ``{"message_id", "emoji"}``; ``location``: ``{"latitude", "longitude", "name"?, "address"?}``;
  ``contacts``: ``{"contacts": [Meta's contact cards]}``;
- any of them but reactions and templates may quote an earlier message: ``"reply_to": wamid``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from domain.errors import InvalidValue

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
HEADER_KINDS = ("text", "image", "video", "document")
TYPES = ("text", "template", "interactive", *MEDIA_KINDS, "reaction", "location", "contacts")
_MEDIA_ID = re.compile(r"^[0-9]{1,64}$")
_LINK = re.compile(r"^https?://\S{1,2040}$")
_WAMID = re.compile(r"^[A-Za-z0-9._=+/:-]{1,256}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class SendMessageCommand:
    """``media``: the ``image``/``video``/... object (``id`` or ``link``, ``caption``, ``filename``); ``header``:
    ``{"type", "text"|<kind>: media}``; ``contacts``: Meta's contact cards; ``reply_to``: a wamid to quote."""

    to: str
    message: str | None = None
    type: str = "text"
    template_id: str | None = None
    language: str = "en_US"
    components: list[dict[str, Any]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)
    header: dict[str, Any] | None = None
    footer: str | None = None
    media: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    contacts: list[dict[str, Any]] = field(default_factory=list)
    reply_to: str | None = None
    from_number_id: UUID | None = None


def build_content(cmd: SendMessageCommand) -> dict[str, Any]:
    """Validate the request against WhatsApp's limits and build the stored content."""
    if cmd.type not in TYPES:
        raise InvalidValue(f"type must be one of {', '.join(TYPES)}.")
    content: dict[str, Any]
    if cmd.type == "template":
        if not cmd.template_id:
            raise InvalidValue("template_id (the approved template's name) is required for type 'template'.")
        content = {"template": {"name": cmd.template_id, "language": cmd.language, "components": cmd.components}}
    elif cmd.type == "reaction":
        return _reaction(cmd.reaction)
    elif cmd.type in MEDIA_KINDS:
        content = _media(cmd.type, cmd.media)
    elif cmd.type == "location":
        content = _location(cmd.location)
    elif cmd.type == "contacts":
        if not 1 <= len(cmd.contacts) <= 257:
            raise InvalidValue("A contacts message carries 1 to 257 contact cards.")
        content = {"contacts": cmd.contacts}
    else:
        content = _text_or_buttons(cmd)
    if cmd.reply_to is not None:
        content["reply_to"] = _wamid(cmd.reply_to, "context.message_id")
    return content


def _text_or_buttons(cmd: SendMessageCommand) -> dict[str, Any]:
    text = (cmd.message or "").strip()
    if not text:
        raise InvalidValue("message must not be empty.")
    if cmd.type == "text":
        if len(text) > TEXT_LIMIT:
            raise InvalidValue(f"A text message has at most {TEXT_LIMIT} characters.")
        return {"text": text}
    if not 1 <= len(cmd.buttons) <= 3:
        raise InvalidValue("An interactive message needs 1 to 3 buttons.")
    titles = [title for _, title in cmd.buttons]
    if any(not t or len(t) > 20 for t in titles) or len(set(titles)) != len(titles):
        raise InvalidValue("Button titles are 1 to 20 characters and unique.")
    if len(text) > 1024:
        raise InvalidValue("An interactive message body has at most 1024 characters.")
    content: dict[str, Any] = {"text": text, "buttons": [{"id": i, "title": t} for i, t in cmd.buttons]}
    if cmd.header is not None:
        content["header"] = _header(cmd.header)
    if cmd.footer is not None:
        if not 1 <= len(cmd.footer) <= 60:
            raise InvalidValue("footer is 1 to 60 characters.")
        content["footer"] = cmd.footer
    return content


def _header(header: Mapping[str, Any]) -> dict[str, Any]:
    kind = header.get("type")
    if kind not in HEADER_KINDS:
        raise InvalidValue(f"header.type must be one of {', '.join(HEADER_KINDS)}.")
    if kind == "text":
        text = header.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 60:
            raise InvalidValue("A text header is 1 to 60 characters.")
        return {"type": "text", "text": text}
    media = _media(str(kind), header.get(str(kind)), caption=False)
    return {"type": kind, **media}


def _media(kind: str, media: Mapping[str, Any] | None, *, caption: bool = True) -> dict[str, Any]:
    if not isinstance(media, Mapping):
        raise InvalidValue(f"{kind} (an object with the uploaded media's id or a link) is required.")
    media_id, link = media.get("id"), media.get("link")
    if (media_id is None) == (link is None):
        raise InvalidValue(f"{kind} takes exactly one of id (uploaded media) and link (a hosted file).")
    if media_id is not None and not (isinstance(media_id, str) and _MEDIA_ID.match(media_id)):
        raise InvalidValue(f"{kind}.id is the numeric media id the upload returned.")
    if link is not None and not (isinstance(link, str) and _LINK.match(link)):
        raise InvalidValue(f"{kind}.link must be an http(s) URL.")
    content: dict[str, Any] = {"media_id": media_id} if media_id is not None else {"link": link}
    text = media.get("caption")
    if text is not None:
        if not caption or kind in ("audio", "sticker"):
            raise InvalidValue(f"{kind} takes no caption here.")
        if not isinstance(text, str) or not 1 <= len(text) <= CAPTION_LIMIT:
            raise InvalidValue(f"A caption is 1 to {CAPTION_LIMIT} characters.")
        content["caption"] = text
    filename = media.get("filename")
    if filename is not None:
        if kind != "document" or not isinstance(filename, str) or not 1 <= len(filename) <= 240:
            raise InvalidValue("filename (1 to 240 characters) applies to documents only.")
        content["filename"] = filename
    return content


def _reaction(reaction: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(reaction, Mapping):
        raise InvalidValue("reaction ({message_id, emoji}) is required for type 'reaction'.")
    emoji = reaction.get("emoji")
    if not isinstance(emoji, str) or len(emoji) > 16:  # "" removes an earlier reaction
        raise InvalidValue("reaction.emoji is one emoji (an empty string removes the reaction).")
    return {"message_id": _wamid(reaction.get("message_id"), "reaction.message_id"), "emoji": emoji}


def _location(location: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(location, Mapping):
        raise InvalidValue("location ({latitude, longitude, name?, address?}) is required for type 'location'.")
    latitude, longitude = location.get("latitude"), location.get("longitude")
    if not isinstance(latitude, int | float) or not -90 <= latitude <= 90 \
            or not isinstance(longitude, int | float) or not -180 <= longitude <= 180:
        raise InvalidValue("location.latitude is -90 to 90 and location.longitude -180 to 180 (decimal degrees).")
    content: dict[str, Any] = {"latitude": float(latitude), "longitude": float(longitude)}
    for name in ("name", "address"):
        value = location.get(name)
        if value is not None:
            if not isinstance(value, str) or not 1 <= len(value) <= 1000:
                raise InvalidValue(f"location.{name} is 1 to 1000 characters.")
            content[name] = value
    return content


def _wamid(value: object, name: str) -> str:
    if not isinstance(value, str) or not _WAMID.match(value):
        raise InvalidValue(f"{name} must be a WhatsApp message id (wamid...).")
    return value
