"""Meta-shaped ``messages`` webhook payloads (CLOUD_API_FACTS.md 4.4/4.5), signing and delivery.

Every builder returns a complete envelope; :func:`batch` merges several into one delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from tests.fake_graph.state import new_wamid

DEFAULT_WABA_ID = "102290129340398"
DEFAULT_DISPLAY_NUMBER = "15550783881"
ERRORS_HREF = "/documentation/business-messaging/whatsapp/support/error-codes"

ErrorSpec = tuple[int, str] | tuple[int, str, str | None] | Mapping[str, Any]


def _stamp(timestamp: int | datetime | None) -> str:
    if isinstance(timestamp, datetime):
        return str(int(timestamp.timestamp()))
    return str(int(time.time()) if timestamp is None else timestamp)


def _envelope(phone_number_id: str, display_phone_number: str, waba_id: str, **parts: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }
    value.update({key: item for key, item in parts.items() if item is not None})
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}]}


def _contact(wa_id: str | None, name: str | None, user_id: str | None) -> dict[str, Any]:
    contact: dict[str, Any] = {"profile": {"name": name} if name else {}}
    if wa_id:
        contact["wa_id"] = wa_id
    if user_id:
        contact["user_id"] = user_id
    return contact


def inbound_message(
    phone_number_id: str, from_wa_id: str | None, message_type: str,
    content: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, *,
    wamid: str | None = None, name: str | None = "Test User", timestamp: int | datetime | None = None,
    context_wamid: str | None = None, user_id: str | None = None,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER, waba_id: str = DEFAULT_WABA_ID,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Any inbound message type; ``from_wa_id=None`` with ``user_id`` is a username (BSUID-only) user.
    ``extra``: message-level fields (``referral``, a ``context`` of its own...)."""
    message: dict[str, Any] = {}
    if context_wamid:
        message["context"] = {"from": display_phone_number, "id": context_wamid}
    if from_wa_id:
        message["from"] = from_wa_id
    if user_id:
        message["from_user_id"] = user_id
    message.update({"id": wamid or new_wamid(), "timestamp": _stamp(timestamp), "type": message_type})
    if content is not None:
        message[message_type] = list(content) if isinstance(content, list) else dict(content)
    message.update(extra or {})
    return _envelope(phone_number_id, display_phone_number, waba_id,
                     contacts=[_contact(from_wa_id, name, user_id)], messages=[message])


def inbound_text(phone_number_id: str, from_wa_id: str | None, text: str, **options: Any) -> dict[str, Any]:
    return inbound_message(phone_number_id, from_wa_id, "text", {"body": text}, **options)


def inbound_button_reply(
    phone_number_id: str, from_wa_id: str | None, button_id: str, title: str, **options: Any
) -> dict[str, Any]:
    """A tap on an interactive reply button (W3)."""
    content = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    return inbound_message(phone_number_id, from_wa_id, "interactive", content, **options)


def inbound_list_reply(
    phone_number_id: str, from_wa_id: str | None, row_id: str, title: str, description: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    """A list row selection (W4)."""
    reply = {"id": row_id, "title": title} | ({"description": description} if description else {})
    return inbound_message(phone_number_id, from_wa_id, "interactive",
                           {"type": "list_reply", "list_reply": reply}, **options)


def inbound_reaction(phone_number_id: str, from_wa_id: str | None, target_wamid: str, emoji: str,
                     **options: Any) -> dict[str, Any]:
    """A reaction (``emoji`` empty: the reaction was removed), Meta's reaction webhook shape."""
    return inbound_message(phone_number_id, from_wa_id, "reaction", {"message_id": target_wamid, "emoji": emoji},
                           **options)


def inbound_edit(phone_number_id: str, from_wa_id: str | None, original_wamid: str, new_type: str,
                 new_content: Mapping[str, Any], **options: Any) -> dict[str, Any]:
    """An edit (Meta's edit webhook: ``edit.original_message_id`` + ``edit.message`` with the new version)."""
    inner = {"type": new_type, new_type: dict(new_content)}
    return inbound_message(phone_number_id, from_wa_id, "edit",
                           {"original_message_id": original_wamid, "message": inner}, **options)


def inbound_revoke(phone_number_id: str, from_wa_id: str | None, original_wamid: str,
                   **options: Any) -> dict[str, Any]:
    """The contact deleted a message for everyone (Meta's revoke webhook)."""
    return inbound_message(phone_number_id, from_wa_id, "revoke", {"original_message_id": original_wamid},
                           **options)


def inbound_quick_reply(
    phone_number_id: str, from_wa_id: str | None, payload: str, text: str, **options: Any
) -> dict[str, Any]:
    """A tap on a template quick-reply button (W5: ``type: button``)."""
    content = {"payload": payload, "text": text}
    return inbound_message(phone_number_id, from_wa_id, "button", content, **options)


def system_message(
    phone_number_id: str, system_type: str, *, from_wa_id: str | None = None, new_wa_id: str | None = None,
    from_user_id: str | None = None, user_id: str | None = None, previous_user_id: str | None = None,
    body: str | None = None, wamid: str | None = None, timestamp: int | datetime | None = None,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER, waba_id: str = DEFAULT_WABA_ID,
) -> dict[str, Any]:
    """A ``type: system`` message (Meta: webhooks/reference/messages/system): no ``contacts`` array; a
    ``user_changed_number`` names the new number in ``system.wa_id`` (and, since Aug 2026, the new and previous
    BSUIDs); a ``user_changed_user_id`` has no ``from``, only ``system.user_id`` / ``system.previous_user_id``."""
    system: dict[str, Any] = {"body": body or f"User changed: {system_type}", "type": system_type}
    for key, value in (("wa_id", new_wa_id), ("user_id", user_id), ("previous_user_id", previous_user_id)):
        if value:
            system[key] = value
    message: dict[str, Any] = {}
    if from_wa_id:
        message["from"] = from_wa_id
    if from_user_id:
        message["from_user_id"] = from_user_id
    message.update({"id": wamid or new_wamid(), "timestamp": _stamp(timestamp), "type": "system",
                    "system": system})
    return _envelope(phone_number_id, display_phone_number, waba_id, messages=[message])


def _field(waba_id: str, field: str, value: Mapping[str, Any], timestamp: int | datetime | None) -> dict[str, Any]:
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "time": int(_stamp(timestamp)), "changes": [{"value": dict(value),
                                                                                   "field": field}]}]}


def account_update(event: str, *, ban_state: str | None = None, restrictions: Sequence[str] = (),
                   violation: str | None = None, waba_id: str = DEFAULT_WABA_ID,
                   timestamp: int | datetime | None = None) -> dict[str, Any]:
    """``account_update`` (Meta: webhooks/reference/account_update): DISABLED_UPDATE with ``ban_info``,
    ACCOUNT_RESTRICTION with ``restriction_info``, ACCOUNT_VIOLATION with ``violation_info``..."""
    value: dict[str, Any] = {"event": event}
    if ban_state is not None:
        value["ban_info"] = {"waba_ban_state": ban_state, "waba_ban_date": "2026-12-01"}
    if restrictions:
        value["restriction_info"] = [{"restriction_type": kind, "expiration": "2026-12-31T00:00:00+0000"}
                                     for kind in restrictions]
    if violation is not None:
        value["violation_info"] = {"violation_type": violation}
    return _field(waba_id, "account_update", value, timestamp)


def quality_update(event: str, *, display_phone_number: str = DEFAULT_DISPLAY_NUMBER,
                   current_limit: str | None = "TIER_UNLIMITED", waba_id: str = DEFAULT_WABA_ID,
                   timestamp: int | datetime | None = None) -> dict[str, Any]:
    """``phone_number_quality_update`` (Meta's example: THROUGHPUT_UPGRADE with current_limit TIER_UNLIMITED)."""
    value: dict[str, Any] = {"display_phone_number": display_phone_number, "event": event}
    if current_limit is not None:
        value["max_daily_conversations_per_business"] = current_limit
    return _field(waba_id, "phone_number_quality_update", value, timestamp)


def user_preference(phone_number_id: str, wa_id: str, value: str, *, category: str = "marketing_messages",
                    display_phone_number: str = DEFAULT_DISPLAY_NUMBER, waba_id: str = DEFAULT_WABA_ID,
                    timestamp: int | datetime | None = None) -> dict[str, Any]:
    """``user_preferences``: a user stopped or resumed marketing messages (``value``: stop | resume)."""
    detail = f"User requested to {value} marketing messages"
    return _field(waba_id, "user_preferences", {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
        "contacts": [{"wa_id": wa_id}],
        "user_preferences": [{"wa_id": wa_id, "detail": detail, "category": category, "value": value,
                              "timestamp": int(_stamp(timestamp))}]}, timestamp)


def other_field(field: str, value: Mapping[str, Any], *, waba_id: str = DEFAULT_WABA_ID) -> dict[str, Any]:
    """Any other webhook field (``security``, ``business_capability_update``...)."""
    return _field(waba_id, field, value, None)


def _error(spec: ErrorSpec) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        return dict(spec)
    code, title, details = (*spec, None)[:3]
    error: dict[str, Any] = {"code": code, "title": title, "message": title}
    if details is not None:
        error["error_data"] = {"details": details}
    error["href"] = ERRORS_HREF
    return error


def status_update(
    phone_number_id: str, wamid: str, status: str, recipient: str | None, *,
    errors: Iterable[ErrorSpec] | None = None, tracking: str | None = None,
    timestamp: int | datetime | None = None, recipient_user_id: str | None = None,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER, waba_id: str = DEFAULT_WABA_ID,
) -> dict[str, Any]:
    """A status webhook (W7..W10). ``errors`` items: ``(code, title[, details])`` or Meta's dict."""
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": _stamp(timestamp)}
    if recipient:
        item["recipient_id"] = recipient
    if recipient_user_id:
        item["recipient_user_id"] = recipient_user_id
    if tracking is not None:
        item["biz_opaque_callback_data"] = tracking
    if errors:
        item["errors"] = [_error(spec) for spec in errors]
    contacts = None if status == "failed" or not (recipient or recipient_user_id) else [
        _contact(recipient, None, recipient_user_id)]
    return _envelope(phone_number_id, display_phone_number, waba_id, contacts=contacts, statuses=[item])


def value_error(
    phone_number_id: str, code: int, title: str, details: str | None = None, *,
    display_phone_number: str = DEFAULT_DISPLAY_NUMBER, waba_id: str = DEFAULT_WABA_ID,
) -> dict[str, Any]:
    """A value-level (system/app/account) error (W11)."""
    return _envelope(phone_number_id, display_phone_number, waba_id, errors=[_error((code, title, details))])


def batch(*payloads: Mapping[str, Any]) -> dict[str, Any]:
    """One delivery carrying every change of ``payloads``, grouped by WABA entry as Meta batches them."""
    entries: dict[str, list[Any]] = {}
    for payload in payloads:
        for entry in payload["entry"]:
            entries.setdefault(entry["id"], []).extend(entry["changes"])
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": changes} for waba_id, changes in entries.items()]}


def webhook_body(payload: Mapping[str, Any] | bytes) -> bytes:
    """The exact bytes delivered: compact JSON with non-ASCII escaped, as Meta sends it."""
    return payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


async def deliver_webhook(
    url: str, payload: Mapping[str, Any] | bytes, app_secret: str | None, *,
    client: httpx.AsyncClient | None = None, signature: str | None = None,
    headers: Mapping[str, str] | None = None, timeout: float = 10.0,
) -> httpx.Response:
    """POST a webhook like Meta: signed over the exact bytes sent.

    ``app_secret=None`` sends no signature; ``signature`` overrides the computed one (wrong-signature
    tests). Pass ``client`` (e.g. one on ``httpx.ASGITransport``) to deliver without a socket.
    """
    body = webhook_body(payload)
    sent_headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if signature is not None:
        sent_headers["X-Hub-Signature-256"] = signature
    elif app_secret is not None:
        sent_headers["X-Hub-Signature-256"] = sign(app_secret, body)
    sent_headers.update(headers or {})
    if client is not None:
        return await client.post(url, content=body, headers=sent_headers)
    async with httpx.AsyncClient(timeout=timeout) as own:
        return await own.post(url, content=body, headers=sent_headers)


def statuses_for(sent: Sequence[Any], status: str, **options: Any) -> dict[str, Any]:
    """One batch with a ``status`` webhook for every recorded send (``fake.sent_messages`` items)."""
    return batch(*(status_update(item.phone_number_id, item.wamid, status, item.to and item.recipient,
                                 tracking=item.biz_opaque_callback_data, **options) for item in sent))
