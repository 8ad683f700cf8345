"""The fake's ``GET /{version}/{waba_id}/message_templates`` (Meta's shape: ``data``, ``paging.cursors``,
``paging.next``), template builders, and the template webhooks Meta posts (status, quality, category)."""

from __future__ import annotations

import base64
import re
import time
import zlib
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fake_graph.faults import GraphFault, bad_param, invalid_token, object_missing
from tests.fake_graph.state import FakeGraph, RecordedRequest

LISTABLE_FIELDS = frozenset({"id", "name", "language", "status", "category", "components", "quality_score",
                             "rejected_reason", "parameter_format", "previous_category", "sub_category"})
DEFAULT_FIELDS = ("name", "parameter_format", "components", "language", "status", "category", "id")
DEFAULT_LIMIT = 25
MAX_LIMIT = 1000


async def list_templates(fake: FakeGraph, request: Request) -> Response:
    received = time.monotonic()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    waba = fake.waba(request.path_params["waba_id"])
    valid = bool(token) and (waba is not None and token in waba.tokens)
    if not valid:
        response = _fault(invalid_token()) if not token or not fake.token_known(token) else \
            _fault(object_missing(request.path_params["waba_id"], "get"))
    else:
        assert waba is not None
        response = _page(waba.templates, request, f"{request.url.scheme}://{request.url.netloc}{request.url.path}")
    fake.record_request(RecordedRequest(
        method="GET", path=request.url.path, query=request.url.query,
        headers={k: "<redacted>" if k in ("authorization", "cookie") else v for k, v in request.headers.items()},
        json=None, at=received, status=response.status_code, token_valid=valid))
    return response


def _page(templates: list[dict[str, Any]], request: Request, url: str) -> Response:
    params = request.query_params
    if "access_token" in params:
        return _fault(bad_param("Send the token in the Authorization header."))
    wanted = [f.strip() for f in params.get("fields", ",".join(DEFAULT_FIELDS)).split(",") if f.strip()]
    unknown = [f for f in wanted if f not in LISTABLE_FIELDS]
    if unknown:
        return _fault(GraphFault(100, 400, message=f"(#100) Tried accessing nonexisting field ({unknown[0]}) on "
                                                   "node type (WhatsAppBusinessAccount)"))
    limit_text = params.get("limit", str(DEFAULT_LIMIT))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_LIMIT:
        return _fault(bad_param(f"limit must be an integer from 1 to {MAX_LIMIT}."))
    limit = int(limit_text)
    start = _offset(params.get("after"))
    if start is None or start > len(templates):
        return _fault(bad_param("Invalid cursor: after."))
    chunk = templates[start:start + limit]
    data = [{key: value for key, value in t.items() if key in wanted or key == "id"} for t in chunk]
    body: dict[str, Any] = {"data": data}
    if chunk:
        paging: dict[str, Any] = {"cursors": {"before": _cursor(start), "after": _cursor(start + len(chunk))}}
        if start + len(chunk) < len(templates):
            paging["next"] = f"{url}?limit={limit}&after={paging['cursors']['after']}"
        body["paging"] = paging
    return JSONResponse(body)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int | None:
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    prefix, _, number = text.partition(":")
    return int(number) if prefix == "offset" and number.isdigit() else None


def _fault(fault: GraphFault) -> Response:
    return JSONResponse(fault.payload(), status_code=fault.http_status)


# --- template sends (Meta's 132001 / 132000) -------------------------------------------------------------------


def check_template_send(templates: list[dict[str, Any]], content: Mapping[str, Any]) -> GraphFault | None:
    """Meta's answer to a template send on a WABA whose templates are these: 132001 for a name and language it does
    not have approved, 132000 when the body's or header's parameters do not match its placeholders."""
    language = content.get("language")
    code = language.get("code") if isinstance(language, Mapping) else None
    found = next((t for t in templates if t.get("name") == content.get("name") and t.get("language") == code), None)
    if found is None or found.get("status") != "APPROVED":
        return GraphFault(132001, 404, details=f"template name ({content.get('name')}) does not exist in {code}")
    sent = {str(c.get("type", "")).lower(): len(c.get("parameters") or []) for c in content.get("components") or []
            if isinstance(c, Mapping)}
    for component in found.get("components") or []:
        kind = str(component.get("type", "")).lower()
        if kind in ("header", "body") and component.get("format", "TEXT") == "TEXT":
            expected = len(set(re.findall(r"\{\{\s*(\w+)\s*\}\}", str(component.get("text", "")))))
            if sent.get(kind, 0) != expected:
                return GraphFault(132000, 400, details=f"{kind}: number of localizable_params ({sent.get(kind, 0)}) "
                                                       f"does not match the expected number of params ({expected})")
    return None


# --- builders ------------------------------------------------------------------------------------------------


def template(name: str, *, language: str = "en_US", status: str = "APPROVED", category: str = "UTILITY",
             body: str = "Hello {{1}}, your order {{2}} is on its way.", header: str | None = None,
             header_format: str = "TEXT", url_button: str | None = None, template_id: str | None = None,
             quality: str = "GREEN", rejected_reason: str = "NONE", named: bool = False) -> dict[str, Any]:
    """A template as Meta lists it: header, body, footer, buttons with ``{{n}}`` (or named) placeholders."""
    components: list[dict[str, Any]] = []
    if header is not None or header_format != "TEXT":
        components.append({"type": "HEADER", "format": header_format, **({"text": header} if header else {})})
    components.append({"type": "BODY", "text": body})
    components.append({"type": "FOOTER", "text": "PyTake test"})
    buttons: list[dict[str, Any]] = [{"type": "QUICK_REPLY", "text": "Stop promotions"}]
    if url_button is not None:
        buttons.append({"type": "URL", "text": "Track", "url": url_button})
    components.append({"type": "BUTTONS", "buttons": buttons})
    return {"id": template_id or str(10**15 + zlib.crc32(f"{name}:{language}".encode())), "name": name,
            "language": language, "status": status, "category": category, "components": components,
            "parameter_format": "NAMED" if named else "POSITIONAL",
            "quality_score": {"score": quality, "date": 1733000000}, "rejected_reason": rejected_reason}


def template_webhook(waba_id: str, field: str, value: dict[str, Any], at: int | None = None) -> dict[str, Any]:
    """``at``: the entry's Unix ``time`` (default: now)."""
    return {"object": "whatsapp_business_account", "entry": [{
        "id": waba_id, "time": int(time.time()) if at is None else at, "changes": [{"value": value, "field": field}]}]}


def status_update_webhook(waba_id: str, template_id: str, name: str, event: str, *, language: str = "en_US",
                          reason: str = "NONE", category: str = "UTILITY", at: int | None = None) -> dict[str, Any]:
    return template_webhook(waba_id, "message_template_status_update", at=at, value={
        "event": event, "message_template_id": int(template_id), "message_template_name": name,
        "message_template_language": language, "reason": reason, "message_template_category": category})


def quality_update_webhook(waba_id: str, template_id: str, name: str, previous: str, new: str, *,
                           language: str = "en_US", at: int | None = None) -> dict[str, Any]:
    return template_webhook(waba_id, "message_template_quality_update", at=at, value={
        "previous_quality_score": previous, "new_quality_score": new, "message_template_id": int(template_id),
        "message_template_name": name, "message_template_language": language})


def category_update_webhook(waba_id: str, template_id: str, name: str, previous: str, new: str, *,
                            language: str = "en_US", at: int | None = None) -> dict[str, Any]:
    return template_webhook(waba_id, "template_category_update", at=at, value={
        "message_template_id": int(template_id), "message_template_name": name,
        "message_template_language": language, "previous_category": previous, "new_category": new})
