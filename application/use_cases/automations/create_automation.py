"""Create a flow automation: the audience is frozen now (deduplicated, opted-out contacts skipped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from application.authorization import Actor, Permission
from application.messaging.outbound import sending_number
from application.messaging.templates import check_template_send
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from domain.automations import (
    Automation,
    AutomationStatus,
    Recipient,
    RecipientState,
    TemplateRequired,
)
from domain.contacts import Contact, ContactNotFound, normalize_whatsapp_id
from domain.errors import InvalidValue
from domain.flows.records import FlowNotActive, FlowNotFound

DEFAULT_RATE = 20.0
MAX_CONTACTS = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class AudienceEntry:
    """A contact id, or a WhatsApp id (created when unknown) with an optional name and variables."""

    contact_id: UUID | None = None
    whatsapp_id: str | None = None
    name: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class AudienceFilter:
    """The organization's contacts with ``tag`` (case-insensitive) and/or matching ``query`` (as the contact
    search: a substring of name, email or whatsapp_id), resolved when the automation is created."""

    tag: str | None = None
    query: str | None = None

    def as_config(self) -> dict[str, str]:
        return {k: v for k, v in (("tag", self.tag), ("query", self.query)) if v}


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateAutomationCommand:
    flow_id: UUID
    contacts: list[AudienceEntry] = field(default_factory=list)
    audience: AudienceFilter | None = None  # instead of ``contacts``
    from_number_id: UUID | None = None
    rate_per_second: float | None = None
    schedule_at: datetime | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    template: dict[str, Any] | None = None


def _check_template(template: dict[str, Any] | None) -> None:
    if template is None:
        return
    name = template.get("name")
    if not isinstance(name, str) or not name or len(name) > 512 or not all(c.islower() or c.isdigit() or c == "_"
                                                                          for c in name):
        raise InvalidValue("config.template.name must be an approved template name ([a-z0-9_]).")
    if not isinstance(template.get("language", "en_US"), str):
        raise InvalidValue("config.template.language must be a language code such as en_US.")
    if not isinstance(template.get("components", []), list):
        raise InvalidValue("config.template.components must be a list (Meta's template components).")


async def _resolve_audience(uow: UnitOfWork, organization_id: UUID, entries: list[AudienceEntry],
                            now: datetime) -> list[tuple[Contact, dict[str, Any]]]:
    """Bulk lookups (and one bulk insert of unknown WhatsApp ids), then de-duplication in order."""
    ids = list(dict.fromkeys(e.contact_id for e in entries if e.contact_id is not None))
    numbers = list(dict.fromkeys(normalize_whatsapp_id(e.whatsapp_id or "") for e in entries if e.contact_id is None))
    by_id = await uow.contacts.get_many(ids) if ids else {}
    missing = [str(i) for i in ids if i not in by_id]
    if missing:
        raise ContactNotFound(f"Unknown contact ids: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else ""))
    by_number = await uow.contacts.get_many_by_whatsapp_ids(numbers) if numbers else {}
    names = {normalize_whatsapp_id(e.whatsapp_id or ""): e.name for e in entries if e.contact_id is None}
    created = [Contact(id=uuid4(), organization_id=organization_id, whatsapp_id=n,
                       name=(names.get(n) or "").strip()[:255] or None, created_at=now, updated_at=now)
               for n in numbers if n not in by_number]
    if created:
        await uow.contacts.add_many(created)
        by_number.update(await uow.contacts.get_many_by_whatsapp_ids([c.whatsapp_id for c in created if c.whatsapp_id]))
    seen: set[UUID] = set()
    audience: list[tuple[Contact, dict[str, Any]]] = []
    for entry in entries:
        contact = by_id[entry.contact_id] if entry.contact_id is not None else \
            by_number[normalize_whatsapp_id(entry.whatsapp_id or "")]
        if contact.id not in seen:
            seen.add(contact.id)
            audience.append((contact, dict(entry.variables)))
    return audience


async def _filtered_audience(uow: UnitOfWork, audience: AudienceFilter) -> list[tuple[Contact, dict[str, Any]]]:
    found = await uow.contacts.page(query=audience.query, tag=audience.tag, before=None, limit=MAX_CONTACTS + 1)
    if not found:
        raise InvalidValue("No contact matches the audience.", field="contacts")
    if len(found) > MAX_CONTACTS:
        raise InvalidValue(f"The audience matches more than {MAX_CONTACTS:,} contacts; an automation has at most "
                           f"{MAX_CONTACTS:,}.", field="contacts")
    return [(contact, {}) for contact in reversed(found)]  # oldest first


def _clean_filter(audience: AudienceFilter | None) -> AudienceFilter | None:
    if audience is None:
        return None
    cleaned = AudienceFilter(tag=(audience.tag or "").strip() or None, query=(audience.query or "").strip() or None)
    if cleaned.tag is None and cleaned.query is None:
        raise InvalidValue("An audience filter needs a tag or a query.", field="contacts")
    return cleaned


class CreateAutomation:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: CreateAutomationCommand) -> Automation:
        actor.require(Permission.MANAGE_FLOWS)
        audience_filter = _clean_filter(cmd.audience)
        if not cmd.contacts and audience_filter is None:
            raise InvalidValue("contacts must list at least one contact.")
        if len(cmd.contacts) > MAX_CONTACTS:
            raise InvalidValue(f"An automation has at most {MAX_CONTACTS} contacts.")
        _check_template(cmd.template)
        now = self._clock.now()
        async with self._uow(actor.organization_id) as uow:
            flow = await uow.flows.get(cmd.flow_id)
            if flow is None:
                raise FlowNotFound()
            if str(getattr(flow.status, "value", flow.status)) != "active":
                raise FlowNotActive()
            number = await sending_number(uow, cmd.from_number_id)
            if cmd.template is not None:
                await check_template_send(uow, number, cmd.template["name"], cmd.template.get("language") or "en_US",
                                          cmd.template.get("components") or [])
            rate = min(cmd.rate_per_second or DEFAULT_RATE, float(number.throughput_mps))
            if rate <= 0:
                raise InvalidValue("config.rate_per_second must be positive.")
            audience = await _filtered_audience(uow, audience_filter) if audience_filter is not None else \
                await _resolve_audience(uow, actor.organization_id, cmd.contacts, now)
            automation = Automation(
                id=uuid4(), organization_id=actor.organization_id, flow_id=cmd.flow_id, number_id=number.id,
                status=AutomationStatus.DRAFT, rate_per_second=rate, schedule_at=cmd.schedule_at,
                total_contacts=len(audience), created_at=now, updated_at=now,
                config={"from_number_id": str(number.id), "rate_per_second": rate,
                        "schedule_at": cmd.schedule_at.isoformat() if cmd.schedule_at else None,
                        "variables": cmd.variables, "template": cmd.template,
                        **({"audience": audience_filter.as_config()} if audience_filter is not None else {})})
            recipients = []
            for seq, (contact, variables) in enumerate(audience):
                recipient = Recipient(id=uuid4(), automation_id=automation.id, organization_id=actor.organization_id,
                                      contact_id=contact.id, seq=seq,
                                      whatsapp_id=contact.whatsapp_id or contact.bsuid or "",
                                      variables=variables, updated_at=now)
                if contact.opted_out:
                    recipient.state, recipient.skip_reason = RecipientState.SKIPPED, "opted_out"
                recipients.append(recipient)
            if cmd.template is None:
                reachable = [r.contact_id for r in recipients if r.state is RecipientState.PENDING]
                if len(await uow.conversations.open_windows(number.id, reachable, now)) < len(reachable):
                    raise TemplateRequired()
            await uow.automations.add(automation)
            await uow.automations.add_recipients(recipients)
            await uow.commit()
        return automation
