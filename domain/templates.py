"""WhatsApp message templates as Meta keeps them for a WhatsApp Business Account (WABA), and the checks a template
send must pass before anything is queued: the template is known, APPROVED, and gets the parameters it needs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.errors import RuleViolation

APPROVED = "APPROVED"
DELETED = "DELETED"
"""A template Meta no longer lists: kept (sends naming it are refused) until Meta lists it again."""
KNOWN_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION",
                  "DELETED", "LIMIT_EXCEEDED", "ARCHIVED")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_HEADERS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "LOCATION"})
_BUTTONS_WITH_PARAMETER = frozenset({"COPY_CODE", "FLOW", "CATALOG", "MPM", "OTP"})


class TemplatesNotSynced(RuleViolation):
    code = "templates_not_synced"
    default_message = ("The templates of this number's WhatsApp Business Account were never synced: sync them first "
                       "(POST /whatsapp/numbers/{id}/templates/sync).")


class TemplateUnknown(RuleViolation):
    code = "template_not_found"
    default_message = "No such template for this number's WhatsApp Business Account."


class TemplateNotApproved(RuleViolation):
    code = "template_not_approved"
    default_message = "The template is not APPROVED."


class TemplateParametersMismatch(RuleViolation):
    code = "template_parameters_mismatch"
    default_message = "The parameters given do not match what the template needs."


class NumberHasNoWaba(RuleViolation):
    code = "whatsapp_number_without_waba"
    default_message = ("This number was registered without its WhatsApp Business Account id (waba_id): its templates "
                       "cannot be synced.")


@dataclass(slots=True, kw_only=True)
class MessageTemplate:
    """One template of a WABA in one language, as last synced (or updated by a webhook)."""

    id: UUID
    organization_id: UUID
    waba_id: str
    meta_template_id: str
    name: str
    language: str
    category: str | None = None
    status: str
    quality_score: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    parameter_format: str | None = None
    rejected_reason: str | None = None
    event_at: datetime | None = None
    """Meta's time of the last template webhook applied."""
    synced_at: datetime
    """When the last sync that listed it started reading Meta's list."""
    updated_at: datetime

    def ensure_sendable(self) -> None:
        if self.status != APPROVED:
            raise TemplateNotApproved(f"Template {self.name} ({self.language}) is {self.status}: only an APPROVED "
                                      "template can be sent.")

    def parameter_needs(self) -> dict[str, int]:
        """How many parameters each send component needs: ``header``, ``body``, ``button:<index>``."""
        return parameter_needs(self.components)

    def check_parameters(self, send_components: Sequence[Mapping[str, Any]]) -> None:
        """Raises TemplateParametersMismatch naming the first component whose parameter count is off. A component
        whose parameters are interpolated per recipient counts its parameters as written."""
        given = given_parameters(send_components)
        needs = self.parameter_needs()
        for key in sorted(set(needs) | set(given)):
            expected, got = needs.get(key, 0), given.get(key, 0)
            if expected != got:
                where = key.replace(":", " ") + " "
                raise TemplateParametersMismatch(
                    f"Template {self.name} ({self.language}): expected {expected} {where}parameter"
                    f"{'' if expected == 1 else 's'}, got {got}.", field="components")


def placeholders(text: object) -> int:
    """Distinct ``{{1}}`` / ``{{name}}`` placeholders in a template text."""
    return len(set(_PLACEHOLDER.findall(text))) if isinstance(text, str) else 0


def parameter_needs(components: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    needs: dict[str, int] = {}
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            fmt = str(component.get("format", "TEXT")).upper()
            count = 1 if fmt in _MEDIA_HEADERS else placeholders(component.get("text"))
            if count:
                needs["header"] = count
        elif kind == "BODY":
            if count := placeholders(component.get("text")):
                needs["body"] = count
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if not isinstance(button, Mapping):
                    continue
                button_type = str(button.get("type", "")).upper()
                count = placeholders(button.get("url")) if button_type == "URL" else \
                    1 if button_type in _BUTTONS_WITH_PARAMETER else 0
                if count:
                    needs[f"button:{index}"] = count
    return needs


def given_parameters(send_components: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Parameter counts of a send's components (Meta's send shape: lower-case ``type``, buttons by ``index``)."""
    given: dict[str, int] = {}
    for component in send_components:
        kind = str(component.get("type", "")).lower()
        parameters = component.get("parameters")
        count = len(parameters) if isinstance(parameters, list) else 0
        if kind in ("header", "body"):
            given[kind] = given.get(kind, 0) + count
        elif kind == "button":
            key = f"button:{component.get('index', 0)}"
            given[key] = given.get(key, 0) + count
    return {key: count for key, count in given.items() if count}


STATUS_EVENTS = {"REINSTATED": APPROVED}
"""``message_template_status_update`` events that name a status other than their own."""
_NO_STATUS_EVENTS = frozenset({"FLAGGED", "LOCKED", "UNLOCKED", "UNARCHIVED"})
"""Events that say nothing reliable about the status itself (the next sync reads it)."""


def status_of_event(event: str) -> str | None:
    """The status a ``message_template_status_update`` event puts the template in, None when it names none."""
    upper = event.upper()
    if upper in _NO_STATUS_EVENTS:
        return None
    return STATUS_EVENTS.get(upper, upper if upper in KNOWN_STATUSES else None)
