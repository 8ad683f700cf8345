"""Meta's ``messages`` webhook JSON -> domain events, and the ``X-Hub-Signature-256`` check.

The parser never raises, whatever the JSON shape: pieces that cannot be routed or identified
(no ``phone_number_id``, no wamid, no sender) are skipped; messages of unknown or malformed types
become ``unsupported`` inbound messages so the contact still counts as having written.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from adapters.whatsapp.errors import PAUSE_CODES
from adapters.whatsapp.inbound_content import clean_text, message_content
from adapters.whatsapp.template_webhooks import TEMPLATE_FIELDS
from domain.messaging import (
    AccountUpdate,
    ErrorDetail,
    IdentityChange,
    IgnoredChange,
    InboundMessage,
    NumberQualityUpdate,
    StatusUpdate,
    SystemKind,
    UserPreference,
    WebhookError,
    WebhookEvent,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
_SIGNATURE_PREFIX = "sha256="


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of raw_body keyed by app_secret>``."""
    if not app_secret or not header:
        return False
    provided = header.strip()
    if not provided.startswith(_SIGNATURE_PREFIX):
        return False
    expected = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    candidate = provided[len(_SIGNATURE_PREFIX):].lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode("ascii"), candidate)


def parse_webhook(payload: object, *, received_at: datetime | None = None) -> list[WebhookEvent]:
    """Every inbound message, status update and value-level error of a ``messages`` webhook.

    ``received_at`` stands in for missing or unreadable timestamps (default: now, UTC).
    """
    fallback = received_at or datetime.now(UTC)
    if not isinstance(payload, Mapping):
        return []
    if payload.get("object", "whatsapp_business_account") != "whatsapp_business_account":
        return []
    events: list[WebhookEvent] = []
    for entry in _mappings(payload.get("entry")):
        waba_id = _text(entry.get("id"))
        for change in _mappings(entry.get("changes")):
            field, value = _text(change.get("field")) or "", change.get("value")
            parser = FIELD_PARSERS.get(field)
            if parser is None or not isinstance(value, Mapping):
                events.append(IgnoredChange(field=field or "(none)", waba_id=waba_id))
            else:
                events.extend(parser(waba_id, value, fallback))
    return events


def _messages(_waba_id: str | None, value: Mapping[Any, Any], fallback: datetime) -> list[WebhookEvent]:
    return _parse_value(value, fallback)


def _account_update(waba_id: str | None, value: Mapping[Any, Any], _fallback: datetime) -> list[WebhookEvent]:
    """``account_update`` (Meta: webhooks/reference/account_update): ``event`` plus, for DISABLED_UPDATE,
    ``ban_info.waba_ban_state`` (SCHEDULE_FOR_DISABLE, DISABLE, REINSTATE) and, for ACCOUNT_RESTRICTION,
    ``restriction_info[].restriction_type``."""
    event = _text(value.get("event"))
    if waba_id is None or event is None:
        return [IgnoredChange(field="account_update", waba_id=waba_id)]
    ban = value.get("ban_info")
    state = _text(ban.get("waba_ban_state")) if isinstance(ban, Mapping) else None
    standing, detail = None, state
    if event == "DISABLED_UPDATE" and state == "DISABLE":
        standing = "banned"
    elif event == "DISABLED_UPDATE" and state == "REINSTATE":
        standing = "reinstated"
    elif event == "ACCOUNT_RESTRICTION":
        standing = "restricted"
        detail = ",".join(t for r in _mappings(value.get("restriction_info"))
                          if (t := _text(r.get("restriction_type")))) or None
    elif event == "ACCOUNT_VIOLATION":
        violation = value.get("violation_info")
        detail = _text(violation.get("violation_type")) if isinstance(violation, Mapping) else None
    return [AccountUpdate(waba_id=waba_id, event=event, standing=standing, detail=detail)]


def _quality_update(waba_id: str | None, value: Mapping[Any, Any], _fallback: datetime) -> list[WebhookEvent]:
    """``phone_number_quality_update``: ``display_phone_number``, ``event`` (THROUGHPUT_UPGRADE, ONBOARDING,
    FLAGGED, UNFLAGGED, UPGRADE, DOWNGRADE), ``current_limit`` / ``max_daily_conversations_per_business``."""
    display, event = _text(value.get("display_phone_number")), _text(value.get("event"))
    if waba_id is None or display is None or event is None:
        return [IgnoredChange(field="phone_number_quality_update", waba_id=waba_id)]
    return [NumberQualityUpdate(waba_id=waba_id, display_phone_number=display, event=event,
                                current_limit=_text(value.get("max_daily_conversations_per_business"))
                                or _text(value.get("current_limit")))]


def _user_preferences(waba_id: str | None, value: Mapping[Any, Any], fallback: datetime) -> list[WebhookEvent]:
    """``user_preferences``: ``user_preferences[]`` of ``{wa_id, category, value: stop|resume, timestamp}``."""
    metadata = value.get("metadata")
    phone_number_id = _text(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
    events: list[WebhookEvent] = []
    for item in _mappings(value.get("user_preferences")):
        wa_id, user_id = _text(item.get("wa_id")), _text(item.get("user_id"))
        category, choice = _text(item.get("category")), _text(item.get("value"))
        if phone_number_id is None or (wa_id is None and user_id is None) or category is None or choice is None:
            events.append(IgnoredChange(field="user_preferences", waba_id=waba_id))
            continue
        events.append(UserPreference(phone_number_id=phone_number_id, wa_id=wa_id, user_id=user_id,
                                     category=category, value=choice,
                                     timestamp=_timestamp(item.get("timestamp")) or fallback))
    return events or [IgnoredChange(field="user_preferences", waba_id=waba_id)]


def _template_field(_waba_id: str | None, _value: Mapping[Any, Any], _fallback: datetime) -> list[WebhookEvent]:
    """Template fields take their own path (``template_webhooks.template_changes``, applied by the inbox's
    template step): nothing here, and not counted ignored."""
    return []


FieldParser = Callable[[str | None, Mapping[Any, Any], datetime], list[WebhookEvent]]
FIELD_PARSERS: dict[str, FieldParser] = {
    # the one place a webhook field is dispatched; any other field becomes an IgnoredChange (counted, kept)
    "messages": _messages,
    "account_update": _account_update,
    "phone_number_quality_update": _quality_update,
    "user_preferences": _user_preferences,
    **dict.fromkeys(TEMPLATE_FIELDS, _template_field),
}


def sender_keys(payload: object) -> tuple[str, ...]:
    """``phone_number_id:sender`` of every message of a ``messages`` webhook (statuses name nobody: their
    order does not matter, a message's status only moves forward). Never raises."""
    keys: set[str] = set()
    if not isinstance(payload, Mapping):
        return ()
    for entry in _mappings(payload.get("entry")):
        for change in _mappings(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, Mapping):
                continue
            metadata = value.get("metadata")
            number = _text(metadata.get("phone_number_id")) if isinstance(metadata, Mapping) else None
            for message in _mappings(value.get("messages")):
                system = message.get("system")
                sender = _text(message.get("from")) or _text(message.get("from_user_id")) or (
                    _text(system.get("previous_user_id")) if isinstance(system, Mapping) else None)
                if sender is not None:
                    keys.add(f"{number}:{sender}")
    return tuple(sorted(keys))


def _parse_value(value: Mapping[Any, Any], fallback: datetime) -> list[WebhookEvent]:
    metadata = value.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    phone_number_id = _text(metadata.get("phone_number_id"))
    if phone_number_id is None:
        return []
    display = _text(metadata.get("display_phone_number"))
    contacts = _contacts(value.get("contacts"))
    events: list[WebhookEvent] = []
    for message in _mappings(value.get("messages")):
        if message.get("type") == "system":
            change = _system(message, phone_number_id, fallback)
            if change is not None:
                events.append(change)
            continue
        inbound = _inbound(message, phone_number_id, display, contacts, fallback)
        if inbound is not None:
            events.append(inbound)
    for status in _mappings(value.get("statuses")):
        update = _status(status, phone_number_id, contacts, fallback)
        if update is not None:
            events.append(update)
    for error in _errors(value.get("errors")):
        events.append(WebhookError(phone_number_id=phone_number_id, code=error.code, title=error.title,
                                   details=error.details))
    return events


def _inbound(
    message: Mapping[Any, Any], phone_number_id: str, display: str | None,
    contacts: dict[str, Mapping[Any, Any]], fallback: datetime,
) -> InboundMessage | None:
    wamid = _text(message.get("id"))
    from_wa_id = _text(message.get("from"))
    contact = contacts.get(from_wa_id or "") or contacts.get(_text(message.get("from_user_id")) or "")
    if contact is None and len({id(item) for item in contacts.values()}) == 1:
        contact = next(iter(contacts.values()))
    contact = contact or {}
    from_user_id = _text(message.get("from_user_id")) or _text(contact.get("user_id"))
    if wamid is None or (from_wa_id is None and from_user_id is None):
        return None
    profile = contact.get("profile")
    context = message.get("context")
    context = context if isinstance(context, Mapping) else {}
    fields: dict[str, Any] = {"context_wamid": _text(context.get("id")),
                              # Meta sends ``frequently_forwarded`` instead of ``forwarded`` past five forwards
                              "forwarded": context.get("forwarded") is True
                              or context.get("frequently_forwarded") is True,
                              "frequently_forwarded": context.get("frequently_forwarded") is True}
    fields.update(message_content(message))
    return InboundMessage(
        phone_number_id=phone_number_id, display_phone_number=display, wamid=wamid, from_wa_id=from_wa_id,
        from_user_id=from_user_id,
        profile_name=_text(profile.get("name")) if isinstance(profile, Mapping) else None,
        timestamp=_timestamp(message.get("timestamp")) or fallback,
        errors=tuple(_errors(message.get("errors"))),
        **fields,
    )


_SYSTEM_KINDS = {"user_changed_number": SystemKind.USER_CHANGED_NUMBER,
                 "customer_changed_number": SystemKind.USER_CHANGED_NUMBER,  # the name before Graph v12
                 "user_changed_user_id": SystemKind.USER_CHANGED_USER_ID,
                 "customer_identity_changed": SystemKind.CUSTOMER_IDENTITY_CHANGED}


def _system(message: Mapping[Any, Any], phone_number_id: str, fallback: datetime) -> IdentityChange | None:
    """A system notice (no ``contacts`` array: everything is in the message). ``user_changed_user_id`` has no
    ``from``: the user is found by ``system.previous_user_id`` (or ``from_user_id``)."""
    wamid = _text(message.get("id"))
    if wamid is None:
        return None
    system = message.get("system")
    system = system if isinstance(system, Mapping) else {}
    raw_kind = _text(system.get("type"))
    return IdentityChange(
        phone_number_id=phone_number_id, wamid=wamid, timestamp=_timestamp(message.get("timestamp")) or fallback,
        kind=_SYSTEM_KINDS.get(raw_kind or "", SystemKind.OTHER), raw_kind=raw_kind,
        from_wa_id=_text(message.get("from")) or _text(system.get("customer")),
        from_user_id=_text(message.get("from_user_id")), previous_user_id=_text(system.get("previous_user_id")),
        new_wa_id=_text(system.get("wa_id")) or _text(system.get("new_wa_id")),
        new_user_id=_text(system.get("user_id")), body=_text(system.get("body")))


def _status(
    status: Mapping[Any, Any], phone_number_id: str, contacts: dict[str, Mapping[Any, Any]],
    fallback: datetime,
) -> StatusUpdate | None:
    wamid, value = _text(status.get("id")), _text(status.get("status"))
    if wamid is None or value is None:
        return None
    recipient = _text(status.get("recipient_id"))
    contact = contacts.get(recipient or "") or {}
    callback = status.get("biz_opaque_callback_data")
    return StatusUpdate(
        phone_number_id=phone_number_id, wamid=wamid, status=value,
        timestamp=_timestamp(status.get("timestamp")) or fallback, recipient_wa_id=recipient,
        recipient_user_id=_text(status.get("recipient_user_id")) or _text(contact.get("user_id")),
        biz_opaque_callback_data=callback if isinstance(callback, str) else None,
        errors=tuple(_errors(status.get("errors"))),
    )


def _contacts(raw: object) -> dict[str, Mapping[Any, Any]]:
    """Contacts by ``wa_id`` and by ``user_id``."""
    found: dict[str, Mapping[Any, Any]] = {}
    for contact in _mappings(raw):
        for key in ("wa_id", "user_id"):
            identifier = _text(contact.get(key))
            if identifier is not None:
                found.setdefault(identifier, contact)
    return found


def _errors(raw: object) -> list[ErrorDetail]:
    errors = []
    for error in _mappings(raw):
        code = error.get("code")
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if not isinstance(code, int) or isinstance(code, bool):
            continue
        data = error.get("error_data")
        details = _text(data.get("details")) if isinstance(data, Mapping) else None
        title = _text(error.get("title")) or _text(error.get("message")) or ""
        errors.append(ErrorDetail(code, title, details, PAUSE_CODES.get(code)))
    return errors


def _mappings(raw: object) -> list[Mapping[Any, Any]]:
    return [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []


_text = clean_text


def _timestamp(value: object) -> datetime | None:
    seconds = _text(value)
    if seconds is None or not seconds.isdigit():
        return None
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (OverflowError, OSError, ValueError):
        return None
