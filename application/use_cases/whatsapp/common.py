"""Helpers shared by several WhatsApp use cases: template-sync enqueueing, media-upload completion, number details."""

from __future__ import annotations

from datetime import datetime

import structlog

from application.jobs import SyncTemplates as SyncTemplatesJob
from application.jobs import enqueue
from application.ports.common import Clock
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.ports.whatsapp import PhoneNumberDetails
from domain.channel import NumberStatus, WhatsAppNumber, WhatsAppNumberAlreadyRegistered
from domain.media import MediaStatus, MediaUpload


async def enqueue_template_sync(uow: UnitOfWork, number: WhatsAppNumber) -> bool:
    """Queue the sync of the number's WABA; False when the number has no WABA id or both slots are taken.

    Two slots per organization and WABA: a dedupe key holds while its job is queued *or running*, and a sync
    already running may have read Meta before the change the caller wants to see, so a request finding the first
    slot taken takes the second. At most two syncs of a WABA are in the queue, and (unless both are running) one
    of them starts after the request."""
    if not number.waba_id:
        return False
    job = SyncTemplatesJob(organization_id=number.organization_id, number_id=number.id)
    key = f"templates:{number.organization_id}:{number.waba_id}"
    return await enqueue(uow, job, dedupe_key=key) or await enqueue(uow, job, dedupe_key=f"{key}:again")


log = structlog.get_logger("pytake.media")


async def _finish(uow_factory: UnitOfWorkFactory, upload: MediaUpload, code: int | None, reason: str,
                  clock: Clock) -> MediaStatus:
    upload.failed(code, reason, clock.now())
    async with uow_factory(upload.organization_id) as uow:
        await uow.media.save(upload)
        await uow.commit()
    log.info("media.upload_failed", upload_id=str(upload.id), graph_code=code)
    return upload.status


THROUGHPUT_BY_LEVEL = {"STANDARD": 80, "HIGH": 1000}


SUPERSEDED = "Superseded: another organization proved with the Graph API that it owns this phone_number_id."


OWNED_ELSEWHERE = "Another organization proved with the Graph API that it owns this phone_number_id first."


def apply_details(number: WhatsAppNumber, details: PhoneNumberDetails, default_mps: int) -> None:
    number.phone_number = details.display_phone_number or number.phone_number
    number.display_name = details.verified_name or number.display_name
    number.verified = (details.code_verification_status or "").upper() == "VERIFIED"
    number.quality_rating = details.quality_rating
    number.throughput_mps = THROUGHPUT_BY_LEVEL.get((details.throughput_level or "").upper(), default_mps)
    number.status = NumberStatus.ACTIVE
    number.last_error = None


async def store_proven_or_pending(uow: UnitOfWork, number: WhatsAppNumber, now: datetime, *, new: bool) -> None:
    """Add or update ``number`` in a system-scope unit of work. A proven (active) number takes its phone_number_id
    over from other organizations' unproven registrations; losing to one proven elsewhere meanwhile leaves it
    ``inactive``. Only proven numbers receive webhooks."""
    try:
        await (uow.numbers.add(number) if new else uow.numbers.update(number))
    except WhatsAppNumberAlreadyRegistered:
        if new or number.status is not NumberStatus.ACTIVE:
            raise
        number.status, number.last_error = NumberStatus.INACTIVE, OWNED_ELSEWHERE
        await uow.numbers.update(number)
        return
    if number.status is NumberStatus.ACTIVE:
        await uow.numbers.supersede_unproven_any_org(
            number.phone_number_id, owner_organization_id=number.organization_id, reason=SUPERSEDED, now=now)
