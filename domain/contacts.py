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


_BRAZIL_MOBILE = re.compile(r"55([1-9]{2})(9?)([6-9][0-9]{7})")
_BSUID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def ninth_digit_variant(whatsapp_id: str) -> str | None:
    """The other spelling of a Brazilian mobile number, with or without the ninth digit; None for anything else.

    A Brazilian mobile is ``55``, a two-digit area code, then ``9`` and eight digits whose first is 6 to 9, or
    those eight digits alone (the spelling before 2016, which WhatsApp still uses as the wa_id of older accounts):
    ``5511987654321`` <-> ``551187654321``. Landlines (first digit 2 to 5) and other countries have no variant.
    """
    found = _BRAZIL_MOBILE.fullmatch(whatsapp_id)
    if found is None:
        return None
    area, nine, local = found.groups()
    return f"55{area}{local}" if nine else f"55{area}9{local}"


def whatsapp_id_spellings(whatsapp_id: str) -> tuple[str, ...]:
    """``whatsapp_id`` and its ninth-digit variant when it has one."""
    variant = ninth_digit_variant(whatsapp_id)
    return (whatsapp_id,) if variant is None else (whatsapp_id, variant)


class InvalidBsuid(InvalidValue):
    field = "bsuid"
    code = "invalid_bsuid"
    default_message = "bsuid must be 1 to 128 letters, digits, '.', '_' or '-' (e.g. US.13491208655302741918)."


_BSUID_SHAPE = re.compile(r"[A-Z]{2}\.[A-Za-z0-9._-]+")


def is_bsuid(raw: str) -> bool:
    """True for what reads as a BSUID (a two-letter country code, a dot, then the id: ``US.1349...``), not a
    phone number."""
    return _BSUID_SHAPE.fullmatch(raw.strip()) is not None


def normalize_bsuid(raw: str) -> str:
    """A business-scoped user id as Meta writes it (``US.13491208655302741918``), trimmed."""
    text = raw.strip()
    if not _BSUID.fullmatch(text):
        raise InvalidBsuid()
    return text


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
    whatsapp_id: str | None  # the phone number (wa_id); None for a username user known only by their BSUID
    bsuid: str | None = None  # Meta's business-scoped user id, when a webhook told it
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

    def absorb(self, other: Contact, now: datetime) -> None:
        """Take what ``other`` (the same person, about to be merged into this contact) knows and this one does
        not: a name, an e-mail, its tags (case-insensitive union, at most 50), attribute keys this one lacks, the
        phone number or BSUID this one lacks. An opt-out on either side is kept (never sent to by mistake)."""
        self.name = self.name or other.name
        self.email = self.email or other.email
        known = {t.lower() for t in self.tags}
        self.tags = (self.tags + [t for t in other.tags if t.lower() not in known])[:MAX_TAGS]
        self.attributes = {**other.attributes, **self.attributes}
        self.whatsapp_id = self.whatsapp_id or other.whatsapp_id
        self.bsuid = self.bsuid or other.bsuid
        if other.opted_out and not self.opted_out:
            self.opted_out, self.opted_out_at = True, other.opted_out_at or now
        self.updated_at = now
