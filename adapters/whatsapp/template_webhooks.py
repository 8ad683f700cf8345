"""The template fields of Meta's webhook (``message_template_status_update``, ``message_template_quality_update``,
``template_category_update``) read into template changes. They name a WABA (``entry.id``) and a template id; no
phone number. Kept apart from the ``messages`` parser: another field, another path through the inbox."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from application.ports.templates import TemplateChange
from domain.templates import status_of_event

TEMPLATE_FIELDS = frozenset({"message_template_status_update", "message_template_quality_update",
                             "template_category_update"})
MARKER = b"template"
"""Every template field's name holds it: a body without it is not parsed a second time."""


def parse_template_changes(payload: object) -> list[TemplateChange]:
    if not isinstance(payload, Mapping) or payload.get("object", "whatsapp_business_account") \
            != "whatsapp_business_account":
        return []
    changes: list[TemplateChange] = []
    for entry in _mappings(payload.get("entry")):
        waba_id = _text(entry.get("id"))
        occurred_at = _time(entry.get("time"))
        for change in _mappings(entry.get("changes")):
            value, field = change.get("value"), change.get("field")
            if waba_id is None or field not in TEMPLATE_FIELDS or not isinstance(value, Mapping):
                continue
            parsed = _change(waba_id, str(field), value, occurred_at)
            if parsed is not None:
                changes.append(parsed)
    return changes


def _change(waba_id: str, field: str, value: Mapping[Any, Any], occurred_at: datetime | None
            ) -> TemplateChange | None:
    template_id = _text(value.get("message_template_id"))
    name, language = _text(value.get("message_template_name")), _text(value.get("message_template_language"))
    if template_id is None and (name is None or language is None):
        return None
    common: dict[str, Any] = {"waba_id": waba_id, "meta_template_id": template_id or "", "name": name,
                              "language": language, "occurred_at": occurred_at}
    if field == "message_template_status_update":
        status = status_of_event(_text(value.get("event")) or "")
        reason = _text(value.get("reason"))
        category = _text(value.get("message_template_category"))
        if status is None and category is None:
            return None
        return TemplateChange(**common, status=status, category=category,
                              rejected_reason=reason if status == "REJECTED" and reason != "NONE" else None)
    if field == "message_template_quality_update":
        score = _text(value.get("new_quality_score"))
        return TemplateChange(**common, quality_score=score.upper()) if score else None
    category = _text(value.get("new_category")) or _text(value.get("correct_category"))
    return TemplateChange(**common, category=category.upper()) if category else None


def _mappings(raw: object) -> list[Mapping[Any, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


def _text(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:500] or None


def _time(value: object) -> datetime | None:
    """The entry's Unix ``time`` (seconds), None when missing or absurd."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        return None
    seconds = int(value)
    if not 0 < seconds < 32503680000:  # before the year 3000
        return None
    return datetime.fromtimestamp(seconds, UTC)
