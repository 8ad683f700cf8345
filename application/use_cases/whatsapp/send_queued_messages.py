"""Worker: send a number's queued messages in batches, each message at most once.

One round:
1. resolve the number's access token from the vault (once for the batch);
2. claim, in one transaction, what the number's budget for this second allows (shared by every worker
   replica): due messages oldest first, one per recipient, never overtaking an earlier message to the same
   recipient. The claim is committed and is the last database step before the calls;
3. call the Graph API for the claimed messages concurrently (different recipients only);
4. record every outcome in one transaction: accepted (``sent`` + the wamid), refused for good (``failed``
   with Meta's code), refused for now (back in the queue after a backoff, or ``failed`` with the last error
   once the attempts are spent), or unknown (the claim stays: the status webhook, which echoes our id, or
   the sweep of unconfirmed sends settles it; it is never sent again);
5. a refusal that concerns the number itself opens its circuit breaker, in the same transaction: Meta paused
   it (spam rate limit, policy block: for the time Meta gave) or its access token is invalid (until the token
   is changed in the vault). The message goes back to the queue without spending an attempt, and no round
   claims anything from the number until the breaker closes; every worker replica sees it in the number's row.

If the database is gone when the outcomes are to be recorded, recording is retried: Meta was called, and
what it answered must not be lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from application.messaging.statuses import StatusChange, StatusRecorder
from application.ports.channel import SecretResolver
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import (
    GraphApiError,
    GraphAuthError,
    ListRow,
    ListSection,
    Location,
    MediaHeader,
    SentMessage,
    WhatsAppGateway,
)
from domain.channel import Message, NumberStatus, WhatsAppNumber
from domain.contacts import InvalidWhatsAppId, normalize_whatsapp_id
from domain.errors import DomainError, Unavailable
from domain.messaging import MessageStatus

log = structlog.get_logger("pytake.send")


MEDIA_HOLD = timedelta(seconds=3)
"""After a media message, the next message to the same recipient waits for its status webhook, at most this
long (media is uploaded by WhatsApp and may otherwise arrive after the text that follows it)."""


MAX_ATTEMPTS = 8


MAX_BACKOFF = timedelta(hours=1)


BATCH_LIMIT = 200


RECORD_RETRY_SECONDS = 120.0


MEDIA_KINDS = frozenset({"image", "document", "video", "audio", "sticker"})


SendObserver = Callable[[str], None]
"""Told each send's outcome: sent, failed, unconfirmed, or retry (refused for now)."""


@dataclass(frozen=True, slots=True)
class SendRound:
    """What one round did. ``wait_seconds`` > 0: the second's budget is spent, come back then; ``more_due``:
    messages are due but wait their turn behind one in flight."""

    claimed: int = 0
    wait_seconds: float = 0.0
    more_due: bool = False


@dataclass(frozen=True, slots=True)
class _Result:
    message: Message
    to: str | None = None
    sent: SentMessage | None = None
    error: GraphApiError | None = None


def canonical_ids(results: list[_Result]) -> dict[UUID, tuple[str, str]]:
    """Contact id -> (the number sent to, Meta's WhatsApp id for it) where they differ: Meta's ``contacts[0].wa_id``
    is the canonical id (a Brazilian number without its ninth digit, say), the one its webhooks will carry."""
    found: dict[UUID, tuple[str, str]] = {}
    for result in results:
        sent, contact_id = result.sent, result.message.contact_id
        if sent is None or sent.wa_id is None or result.to is None or contact_id is None:
            continue
        try:
            canonical = normalize_whatsapp_id(sent.wa_id)
        except InvalidWhatsAppId:
            continue
        if canonical != result.to:
            found[contact_id] = (result.to, canonical)
    return found


BANNED_REASON = ("Not sent: Meta disabled the WhatsApp Business Account of the sending number (account_update "
                 "DISABLE).")


class SendQueuedMessages:
    def __init__(self, *, uow: UnitOfWorkFactory, gateway: WhatsAppGateway, secrets: SecretResolver,
                 statuses: StatusRecorder, clock: Clock, observer: SendObserver | None = None,
                 media_hold: timedelta = MEDIA_HOLD, max_attempts: int = MAX_ATTEMPTS,
                 max_backoff: timedelta = MAX_BACKOFF) -> None:
        self._uow, self._gateway, self._secrets, self._statuses, self._clock = uow, gateway, secrets, statuses, clock
        self._observe: SendObserver = observer or (lambda _outcome: None)
        self._media_hold, self._max_attempts, self._max_backoff = media_hold, max(max_attempts, 1), max_backoff

    async def execute(self, organization_id: UUID, number_id: UUID) -> SendRound:
        async with self._uow(organization_id) as uow:
            number = await uow.numbers.get(number_id)
            due = number is not None and await uow.outbox.has_due(number_id, self._clock.now())
        if number is None or not due:
            return SendRound()
        if number.status is not NumberStatus.ACTIVE:
            return await self._fail_queued(number, "The sending number is not active.")
        if number.banned:  # Meta refuses every send (368 and the like): fail them now, clearly, not one by one
            return await self._fail_queued(number, BANNED_REASON)
        if number.sending_paused(self._clock.now()):  # the breaker is open: the messages wait, none fails
            return SendRound()
        try:  # counted below: one use per message sent with it
            token = await self._secrets.resolve(organization_id, number.access_token_secret_id, count=False)
        except DomainError as error:  # missing or inactive secret: the messages wait for a usable token
            log.warning("send.token_unavailable", number_id=str(number_id), error_code=error.code)
            return SendRound(wait_seconds=30.0)
        async with self._uow(organization_id) as uow:
            claim = await uow.outbox.claim(number_id, per_second=number.throughput_mps, limit=BATCH_LIMIT,
                                           now=self._clock.now(), hold_after_media=self._media_hold)
            await uow.commit()
        if claim.messages:
            results = await asyncio.gather(*(self._send(number, token, message, to)
                                             for message, to in claim.messages))
            await self._record(number, list(results))
        return SendRound(claimed=len(claim.messages), wait_seconds=claim.wait_seconds, more_due=claim.more_due)

    async def _send(self, number: WhatsAppNumber, token: str, message: Message, to: str | None) -> _Result:
        if to is None:
            return _Result(message, error=GraphApiError("The contact no longer exists."))
        try:
            return _Result(message, to, sent=await self._call(number, token, message, to))
        except GraphApiError as error:
            return _Result(message, error=error)

    async def _call(self, number: WhatsAppNumber, token: str, message: Message, to: str) -> SentMessage:
        pnid, content, tracking = number.phone_number_id, message.content, str(message.id)
        gateway, reply_to = self._gateway, content.get("reply_to")
        if message.type == "template":
            template: dict[str, Any] = content["template"]
            return await gateway.send_template(pnid, token, to, template["name"], template["language"],
                                               template.get("components") or (), reply_to=reply_to, tracking=tracking)
        if message.type == "interactive" and content.get("sections"):
            sections = [ListSection(s.get("title"), tuple(ListRow(r["id"], r["title"], r.get("description"))
                                                           for r in s["rows"])) for s in content["sections"]]
            return await gateway.send_list(pnid, token, to, content["text"], content.get("button", "Options"),
                                           sections, reply_to=reply_to, tracking=tracking)
        if message.type == "interactive":
            buttons = [(b["id"], b["title"]) for b in content["buttons"]]
            return await gateway.send_buttons(pnid, token, to, content["text"], buttons, _header(content.get("header")),
                                              content.get("footer"), reply_to=reply_to, tracking=tracking)
        if message.type in MEDIA_KINDS:
            return await gateway.send_media(pnid, token, to, message.type, content.get("link"),  # type: ignore[arg-type]
                                            content.get("caption"), content.get("filename"),
                                            media_id=content.get("media_id"), reply_to=reply_to, tracking=tracking)
        if message.type == "reaction":
            return await gateway.send_reaction(pnid, token, to, content["message_id"], content["emoji"],
                                               tracking=tracking)
        if message.type == "location":
            place = Location(latitude=content["latitude"], longitude=content["longitude"], name=content.get("name"),
                             address=content.get("address"))
            return await gateway.send_location(pnid, token, to, place, reply_to=reply_to, tracking=tracking)
        if message.type == "contacts":
            return await gateway.send_contacts(pnid, token, to, content["contacts"], reply_to=reply_to,
                                               tracking=tracking)
        return await gateway.send_text(pnid, token, to, content["text"], bool(content.get("preview_url")),
                                       reply_to=reply_to, tracking=tracking)

    async def _record(self, number: WhatsAppNumber, results: list[_Result]) -> None:
        deadline = asyncio.get_running_loop().time() + RECORD_RETRY_SECONDS
        delay = 0.25
        while True:
            try:
                await self._record_once(number, results)
                break
            except Unavailable:  # Meta answered; what it said must be written down
                if asyncio.get_running_loop().time() > deadline:
                    log.error("send.outcomes_not_recorded", number_id=str(number.id), messages=len(results))
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        # the token's usage: one use per call Meta answered; those refused for the credential are failures
        rejected = sum(isinstance(r.error, GraphAuthError) for r in results)
        used = sum(r.sent is not None or (r.error is not None and r.error.http_status is not None) for r in results)
        try:
            await self._secrets.count_uses(number.organization_id, number.access_token_secret_id,
                                           successes=used - rejected, failures=rejected)
        except DomainError:  # best effort, as every usage count: the sends are recorded
            log.warning("send.usage_not_counted", number_id=str(number.id))

    async def _record_once(self, number: WhatsAppNumber, results: list[_Result]) -> None:
        now = self._clock.now()
        changes: list[StatusChange] = []
        released: list[Message] = []
        outcomes: list[str] = []
        async with self._uow(number.organization_id) as uow:
            # fresh copies: a status webhook may already have moved a message (it echoes our id)
            fresh = await uow.messages.get_many([r.message.id for r in results], for_update=True)
            for result in results:
                message = fresh.get(result.message.id)
                if message is None:
                    continue
                outcomes.append(self._outcome(message, result, now, changes, released))
            breaker = _breaker([r.error for r in results if r.error is not None and _pauses_number(r.error)])
            if breaker is not None:
                await self._open_breaker(uow, number, breaker, now)
            await self._statuses.record(uow, changes, now, also_save=released)
            canonical = canonical_ids(results)
            if canonical:
                await uow.contacts.adopt_whatsapp_ids(canonical, now)
            await uow.commit()
        for outcome in outcomes:  # told once the outcomes are committed (a retried recording counts once)
            self._observe(outcome)

    async def _open_breaker(self, uow: UnitOfWork, number: WhatsAppNumber, error: GraphApiError,
                            now: datetime) -> None:
        current = await uow.numbers.get(number.id)
        if current is None:
            return
        until = None if error.token_invalid else now + timedelta(seconds=error.pause_number_seconds or 0.0)
        current.pause_sending(error.graph_code, error.title or error.message, now, until)
        await uow.numbers.save_send_pause(current)
        log.warning("send.number_paused", number_id=str(number.id), graph_code=error.graph_code,
                    until=until.isoformat() if until else "token_changed")

    def _outcome(self, message: Message, result: _Result, now: datetime, changes: list[StatusChange],
                 released: list[Message]) -> str:
        if result.sent is not None:
            changes.append(StatusChange(message=message, status=MessageStatus.SENT, at=now, wamid=result.sent.wamid))
            return "sent"
        error = result.error
        assert error is not None
        fields = {"message_id": str(message.id), "graph_code": error.graph_code, "http_status": error.http_status,
                  "error_type": type(error).__name__}
        if error.retryable and error.may_have_been_sent:
            log.warning("send.outcome_unknown", **fields)
            return "unconfirmed"  # the claim stays: never sent again
        if _pauses_number(error):  # not this message's fault: back in the queue, no attempt spent
            message.send_claimed_at, message.next_attempt_at = None, None
            message.attempts = max(message.attempts - 1, 0)
            released.append(message)
            log.info("send.held_by_breaker", **fields)
            return "paused"
        if error.retryable and message.attempts < self._max_attempts:
            message.send_claimed_at = None
            wait = min(error.backoff_seconds(message.attempts - 1) or 1.0, self._max_backoff.total_seconds())
            message.next_attempt_at = now + timedelta(seconds=wait)
            released.append(message)
            log.info("send.retry_later", attempts=message.attempts, **fields)
            return "retry"
        title = error.title or error.message
        if error.retryable:
            title = f"Gave up after {message.attempts} attempts: {title}"
        log.info("send.failed", **fields)
        changes.append(StatusChange(message=message, status=MessageStatus.FAILED, at=now,
                                    error_code=error.graph_code, error_title=title[:500],
                                    credentials_rejected=isinstance(error, GraphAuthError)))
        return "failed"

    async def _fail_queued(self, number: WhatsAppNumber, reason: str) -> SendRound:
        now = self._clock.now()
        async with self._uow(number.organization_id) as uow:
            queued = await uow.outbox.queued(number.id, BATCH_LIMIT)
            await self._statuses.record(uow, [StatusChange(message=m, status=MessageStatus.FAILED, at=now,
                                                           error_title=reason) for m in queued], now)
            await uow.commit()
        for _ in queued:
            self._observe("failed")
        return SendRound(claimed=len(queued), more_due=len(queued) == BATCH_LIMIT)


def _pauses_number(error: GraphApiError) -> bool:
    return error.token_invalid or error.pause_number_seconds is not None


def _breaker(errors: list[GraphApiError]) -> GraphApiError | None:
    """The refusal that decides the number's pause: an invalid token (no end) before the longest pause."""
    if not errors:
        return None
    return max(errors, key=lambda e: (e.token_invalid, e.pause_number_seconds or 0.0))


def _header(stored: dict[str, Any] | None) -> str | MediaHeader | None:
    """A stored interactive header: ``{"type": "text", "text"}`` or ``{"type": kind, "media_id"|"link"}``."""
    if not stored:
        return None
    if stored.get("type") == "text":
        return str(stored["text"])
    return MediaHeader(kind=stored["type"], media_id=stored.get("media_id"), link=stored.get("link"),
                       filename=stored.get("filename"))
