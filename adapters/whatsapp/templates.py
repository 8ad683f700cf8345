"""Reading ``GET /{waba_id}/message_templates`` answers (Meta's template shape) into port values."""

from __future__ import annotations

from typing import Any

from adapters.whatsapp.errors import graph_error
from application.ports.templates import RemoteTemplate, TemplatePage

TEMPLATE_FIELDS = "id,name,language,status,category,components,quality_score,rejected_reason,parameter_format"
PAGE_SIZE = 100


def templates_page(answer: dict[str, Any]) -> TemplatePage:
    """The page's templates (entries without an id, name, language or status are skipped) and the cursor of the
    next page: ``paging.cursors.after``, only when ``paging.next`` says there is one."""
    data = answer.get("data")
    if not isinstance(data, list):
        raise graph_error(200, None, message="The Graph API answered the template list without a data array.")
    templates = [template for item in data if isinstance(item, dict) and (template := _template(item)) is not None]
    paging = _mapping(answer.get("paging"))
    cursors = _mapping(paging.get("cursors"))
    after = cursors.get("after")
    more = isinstance(paging.get("next"), str) and bool(paging.get("next"))
    return TemplatePage(templates=templates, after=after if more and isinstance(after, str) and after else None)


def _template(item: dict[str, Any]) -> RemoteTemplate | None:
    identifier, name, language, status = (item.get(k) for k in ("id", "name", "language", "status"))
    if not all(isinstance(v, str | int) and str(v) for v in (identifier, name, language, status)):
        return None
    quality = item.get("quality_score")
    score = quality.get("score") if isinstance(quality, dict) else quality
    components = item.get("components")
    reason = item.get("rejected_reason")
    return RemoteTemplate(
        meta_template_id=str(identifier), name=str(name), language=str(language), status=str(status).upper(),
        category=_text(item.get("category")), quality_score=_text(score),
        components=[c for c in components if isinstance(c, dict)] if isinstance(components, list) else [],
        parameter_format=_text(item.get("parameter_format")),
        rejected_reason=None if reason in (None, "", "NONE") else str(reason))


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
