"""Every job the worker runs through the PgQueuer queue, its entrypoint name and its payload, in one place.

(Webhooks and sends are not jobs: the inbox and the outbox are their queues.) A job is a frozen dataclass;
``enqueue`` stores it in the unit of work's transaction and the worker's handlers read it back with
``Job.decode``, so a payload is written and read by the same class and never by string keys scattered around.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from typing import Any, ClassVar, Self
from uuid import UUID

from application.ports.uow import UnitOfWork


class Job:
    """Base of the job payloads: ``entrypoint`` names the handler."""

    entrypoint: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        return {f.name: str(v) if isinstance(v := getattr(self, f.name), UUID) else v
                for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def decode(cls, data: Mapping[str, Any]) -> Self:
        """Raises KeyError/ValueError on a payload this class did not write (the worker dead-letters it)."""
        hints = typing.get_type_hints(cls)
        values = {f.name: UUID(str(data[f.name])) if hints[f.name] is UUID else data[f.name]
                  for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**values)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendEmail(Job):
    entrypoint: ClassVar[str] = "send_email"
    to: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyNumber(Job):
    """Check a number that was registered while the Graph API could not be reached."""

    entrypoint: ClassVar[str] = "verify_number"
    organization_id: UUID
    number_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchAutomation(Job):
    entrypoint: ClassVar[str] = "dispatch_automation"
    organization_id: UUID
    automation_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowTimer(Job):
    """A delay or a question's timeout: deliver ``timer_id`` to the execution when it fires."""

    entrypoint: ClassVar[str] = "flow_timer"
    organization_id: UUID
    execution_id: UUID
    timer_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowHttp(Job):
    """An ``http_request`` node's call; ``call`` is ``flows.http_payload``'s encoding of the command (its secret
    references kept apart, nothing resolved)."""

    entrypoint: ClassVar[str] = "flow_http"
    organization_id: UUID
    execution_id: UUID
    call: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportContacts(Job):
    """Import an uploaded CSV from its last committed batch (a re-run resumes, never counts twice)."""

    entrypoint: ClassVar[str] = "import_contacts"
    organization_id: UUID
    import_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncTemplates(Job):
    """Read every template of the number's WhatsApp Business Account from Meta and store them (idempotent)."""

    entrypoint: ClassVar[str] = "sync_templates"
    organization_id: UUID
    number_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadMedia(Job):
    """Upload a stored file to Meta for its number (the media id is recorded on the upload)."""

    entrypoint: ClassVar[str] = "upload_media"
    organization_id: UUID
    upload_id: UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkRead(Job):
    """Tell Meta an inbound message was read (and, with ``typing``, show the typing indicator)."""

    entrypoint: ClassVar[str] = "mark_read"
    organization_id: UUID
    message_id: UUID
    typing: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PublishAutomationProgress(Job):
    """Tell the organization's event stream where an automation is (``application.events.progress_changed``
    queues it at most once per automation and 250 ms window)."""

    entrypoint: ClassVar[str] = "publish_automation_progress"
    organization_id: UUID
    automation_id: UUID


EXPIRE_FLOW_EXECUTIONS = "expire_flow_executions"  # the worker's minute schedules: no payload
RECONCILE_SENDS = "reconcile_sends"
SYNC_ALL_TEMPLATES = "sync_all_templates"  # every TEMPLATE_SYNC_HOURS: queues a SyncTemplates per WABA
PURGE_EVENTS = "purge_events"


async def enqueue(uow: UnitOfWork, job: Job, *, dedupe_key: str | None = None,
                  delay: timedelta | None = None) -> bool:
    """Queue ``job`` in ``uow``'s transaction; False when a queued job holds ``dedupe_key``."""
    return await uow.jobs.enqueue(job.entrypoint, job.payload(), dedupe_key=dedupe_key, delay=delay)
