"""The template check every template send passes before anything is queued (the API's sends, an automation's
opening message when it is created and again when it is dispatched).

A number registered with its WhatsApp Business Account id (``waba_id``) is checked against the stored copy of the
WABA's templates: the template must be known (a WABA never synced is refused: sync it first), APPROVED, and given
as many header, body and button parameters as its text has placeholders. A number registered without a WABA id
cannot have its templates synced: its sends are not checked here (Meta refuses a bad one, error 132000/132001)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from application.ports.uow import UnitOfWork
from domain.channel import WhatsAppNumber
from domain.templates import MessageTemplate, TemplateNotApproved, TemplatesNotSynced, TemplateUnknown


async def stored_template(uow: UnitOfWork, number: WhatsAppNumber, name: str, language: str
                          ) -> MessageTemplate | None:
    """The number's template, or None when the number has no WABA id (not checked). Raises TemplatesNotSynced,
    TemplateUnknown."""
    if not number.waba_id:
        return None
    template = await uow.templates.get(number.waba_id, name, language)
    if template is not None:
        return template
    if not await uow.templates.has_any(number.waba_id):
        raise TemplatesNotSynced(
            f"The templates of WhatsApp Business Account {number.waba_id} were never synced: sync them first "
            f"(POST /whatsapp/numbers/{number.id}/templates/sync).")
    raise TemplateUnknown(f"Template {name} ({language}) is not a template of WhatsApp Business Account "
                          f"{number.waba_id}; if it was created since the last sync, sync the templates again.",
                          field="template")


async def check_template_send(uow: UnitOfWork, number: WhatsAppNumber, name: str, language: str,
                              components: Sequence[Mapping[str, Any]]) -> None:
    """Raises TemplatesNotSynced, TemplateUnknown, TemplateNotApproved or TemplateParametersMismatch (all 400)."""
    template = await stored_template(uow, number, name, language)
    if template is not None:
        template.ensure_sendable()
        template.check_parameters(components)


async def unsendable_reason(uow: UnitOfWork, number: WhatsAppNumber, name: str, language: str) -> str | None:
    """At dispatch: why the template cannot be sent now (gone, or no longer APPROVED), else None."""
    try:
        template = await stored_template(uow, number, name, language)
        if template is not None:
            template.ensure_sendable()
    except (TemplatesNotSynced, TemplateUnknown, TemplateNotApproved) as error:
        return error.message
    return None
