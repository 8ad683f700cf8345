"""Reactions, edits and revokes: inbound events that change an earlier message instead of being one.

None of them is stored as a message, answers a flow, counts as an automation reply or refreshes the customer
service window. Each changes its target's ``content`` (and a revoke its ``deleted_at``), set-based: the
targets are read (locked) in one statement and written back in one. What the content keeps:

- ``reactions``: the contact's current reaction, ``[{"by": "contact", "emoji", "at", "wamid"}]``; a reaction
  without emoji removes it; an older reaction than the one kept changes nothing;
- an edit replaces the versioned fields (``text``, ``media_id``, ``media``...) and pushes the version it
  replaces onto ``edits`` (``[{..., "since", "edit_wamid"}]``, oldest first) with ``edited_at``/``edit_wamid``
  set; an edit older than the current version only joins the history; only the contact's own inbound
  messages can be edited;
- a revoke (the contact deleted the message for everyone) sets ``deleted_at`` and ``content.deleted``, and
  drops the text, media, details and edit history (what the contact took back is not kept); reactions,
  ``context_wamid`` and the forwarded flags stay.

A target that is unknown (never received, another organization's, another contact's, or not yet arrived) is
counted ``unknown_target`` and logged; an event applied before (a webhook delivered again) ``duplicates``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import structlog

from application.ports.uow import UnitOfWork
from domain.channel import Message, WhatsAppNumber
from domain.contacts import InvalidWhatsAppId, normalize_whatsapp_id
from domain.messaging import InboundMessage, InboundMessageType, MessageDirection

log = structlog.get_logger("pytake.webhook")

META_KEYS = frozenset({"reactions", "edits", "edited_at", "edit_wamid", "context_wamid", "forwarded",
                       "frequently_forwarded", "referral", "referred_product", "deleted", "errors"})
"""Content keys that describe the message rather than being its content (an edit keeps them)."""

Count = Callable[[Any, str], None]


def event_content(event: InboundMessage) -> dict[str, Any]:
    """The stored content of an inbound message (or of an edit's new version)."""
    content: dict[str, Any] = {"text": event.text, "reply_id": event.reply_id, "media_id": event.media_id}
    content.update(event.details)
    content.pop("type", None)  # an edit names its new version's type; the message keeps its own
    return {k: v for k, v in content.items() if v is not None}


class AnnotationApplier:
    async def apply(self, uow: UnitOfWork, numbers: Mapping[str, WhatsAppNumber],
                    refs: Sequence[tuple[Any, InboundMessage]], now: datetime, count: Count) -> None:
        """``refs``: (ref, event) in the order to apply them; inside the caller's transaction."""
        senders: dict[str, str] = {}
        for _, event in refs:
            try:
                senders[event.wamid] = normalize_whatsapp_id(event.from_wa_id or "")
            except InvalidWhatsAppId:
                pass
        contacts = await uow.contacts.get_many_by_whatsapp_ids(sorted(set(senders.values()))) if senders else {}
        targets = await uow.messages.get_many_by_wamids(
            sorted({e.target_wamid for _, e in refs if e.target_wamid}), for_update=True)
        changed: dict[str, Message] = {}
        for ref, event in refs:
            target = changed.get(event.target_wamid or "") or targets.get(event.target_wamid or "")
            contact = contacts.get(senders.get(event.wamid, ""))
            number = numbers[event.phone_number_id]
            if target is None or contact is None or target.contact_id != contact.id or target.number_id != number.id \
                    or (event.type is not InboundMessageType.REACTION
                        and target.direction is not MessageDirection.INBOUND):
                log.info("webhook.annotation_unknown_target", kind=event.type.value, wamid=event.wamid,
                         target_wamid=event.target_wamid)
                count(ref, "unknown_target")
                continue
            updated = _annotated(target, event, now)
            if updated is None:
                count(ref, "duplicates")
                continue
            changed[str(target.wamid)] = updated
            count(ref, {InboundMessageType.REACTION: "reactions", InboundMessageType.EDIT: "edits"}.get(
                event.type, "revokes"))
        if changed:
            await uow.messages.update_contents(list(changed.values()))


def _annotated(message: Message, event: InboundMessage, now: datetime) -> Message | None:
    """``message`` with ``event`` applied, or None when it changes nothing."""
    content = copy.deepcopy(message.content)
    at = event.timestamp.isoformat()
    if event.type is InboundMessageType.REACTION:
        kept = [r for r in content.get("reactions", []) if isinstance(r, dict) and r.get("by") == "contact"]
        current = kept[0] if kept else None
        if current is not None and (current.get("wamid") == event.wamid or str(current.get("at", "")) > at):
            return None
        others = [r for r in content.get("reactions", []) if not (isinstance(r, dict) and r.get("by") == "contact")]
        if event.text is None and current is None:
            return None
        content["reactions"] = others + ([{"by": "contact", "emoji": event.text, "at": at, "wamid": event.wamid}]
                                         if event.text is not None else [])
        if not content["reactions"]:
            del content["reactions"]
        return replace(message, content=content, updated_at=now)
    if event.type is InboundMessageType.REVOKE:
        if message.deleted_at is not None:
            return None
        kept_content = {k: v for k, v in content.items() if k in META_KEYS and k not in ("edits", "edited_at",
                                                                                        "edit_wamid")}
        kept_content["deleted"] = True
        return replace(message, content=kept_content, deleted_at=event.timestamp, updated_at=now)
    # an edit
    if message.deleted_at is not None:
        return None
    history = [e for e in content.get("edits", []) if isinstance(e, dict)]
    if content.get("edit_wamid") == event.wamid or any(e.get("edit_wamid") == event.wamid for e in history):
        return None
    new_version = {**event_content(event), "since": at, "edit_wamid": event.wamid}
    current_since = str(content.get("edited_at") or message.occurred_at.isoformat())
    if at < current_since:  # an older edit arriving late: it only joins the history
        history.append(new_version)
    else:
        previous = {k: v for k, v in content.items() if k not in META_KEYS}
        history.append({**previous, "since": current_since, "edit_wamid": content.get("edit_wamid")})
        content = {k: v for k, v in content.items() if k in META_KEYS}
        content.update(event_content(event))
        if "media_id" in previous and "media_id" not in content:  # a caption edit that did not repeat the media
            content["media_id"] = previous["media_id"]
            media = dict(previous.get("media") or {})
            media.pop("caption", None)
            content["media"] = {**media, **({"caption": event.text} if event.text else {})}
        content["edited_at"], content["edit_wamid"] = at, event.wamid
    content["edits"] = sorted(history, key=lambda e: str(e.get("since", "")))
    return replace(message, content=content, updated_at=now)
