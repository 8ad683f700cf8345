"""Contacts: the people an organization talks to on WhatsApp."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import Conflict, InvalidValue, NotFound

_SEPARATORS = re.compile(r"[\s\-]+")
_DIGITS = re.compile(r"[1-9][0-9]{7,14}")  # E.164: country codes never start with 0
_TAG = re.compile(r"^[\w][\w .:/-]{0,49}$", re.UNICODE)

MAX_TAGS = 50
MAX_ATTRIBUTES = 100


class InvalidWhatsAppId(InvalidValue):
    field = "whatsapp_id"
    code = "invalid_whatsapp_id"
    default_message = "whatsapp_id must be an international number of 8 to 15 digits (E.164 without '+')."


class InvalidTag(InvalidValue):
    field = "tags"
    code = "invalid_tag"
    default_message = "Tags are 1 to 50 characters of letters, digits, spaces and . : / - _"


class ContactAlreadyExists(Conflict):
    code = "contact_already_exists"
    default_message = "A contact with this whatsapp_id already exists in the organization."


class ContactNotFound(NotFound):
    code = "contact_not_found"
    default_message = "Contact not found."


def normalize_whatsapp_id(raw: str) -> str:
    """'+55 11 9-8765-4321' -> '5511987654321'. Only a leading '+', spaces and dashes are accepted."""
    text = raw.strip()
    if text.startswith("+"):
        text = text[1:]
    digits = _SEPARATORS.sub("", text)
    if not _DIGITS.fullmatch(digits):
        raise InvalidWhatsAppId()
    return digits


def normalize_tags(tags: list[str]) -> list[str]:
    """Trim, drop duplicates (case-insensitive, first spelling kept), keep order."""
    seen: set[str] = set()
    result: list[str] = []
    for tag in tags:
        cleaned = tag.strip()
        if not _TAG.match(cleaned):
            raise InvalidTag()
        if cleaned.lower() not in seen:
            seen.add(cleaned.lower())
            result.append(cleaned)
    if len(result) > MAX_TAGS:
        raise InvalidTag(f"A contact has at most {MAX_TAGS} tags.")
    return result


@dataclass(slots=True, kw_only=True)
class Contact:
    id: UUID
    organization_id: UUID
    whatsapp_id: str
    name: str | None = None
    email: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    opted_out: bool = False
    opted_out_at: datetime | None = None
    created_at: datetime
    updated_at: datetime

    def set_opt_out(self, opted_out: bool, now: datetime) -> None:
        if opted_out and not self.opted_out:
            self.opted_out_at = now
        if not opted_out:
            self.opted_out_at = None
        self.opted_out = opted_out
