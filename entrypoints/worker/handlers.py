"""Job handlers: decode the payload with its job class (application/jobs.py), call the use case or port."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from pgqueuer.models import Job

from application.jobs import (
    EXPIRE_FLOW_EXECUTIONS,
    DispatchAutomation,
    FlowHttp,
    FlowTimer,
    ImportContacts,
    MarkRead,
    PublishAutomationProgress,
    SendEmail,
    SyncTemplates,
    UploadMedia,
    VerifyNumber,
)
from domain.errors import DomainError
from entrypoints.container import Container
from entrypoints.runtime import provide

Handler = Callable[[Job], Awaitable[None]]
DeadLetterHook = Callable[[Job, BaseException], Awaitable[None]]
log = structlog.get_logger("pytake.worker")


def payload_of(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(job.payload or b"{}")
    return data


def build_handlers(container: Container) -> dict[str, Handler]:
    async def send_email(job: Job) -> None:
        mail = SendEmail.decode(payload_of(job))
        await (await provide(container.mailer)).send(to=mail.to, subject=mail.subject, body=mail.body)

    async def verify_number(job: Job) -> None:
        check = VerifyNumber.decode(payload_of(job))
        await (await provide(container.verify_number)).execute(check.organization_id, check.number_id)

    async def dispatch_automation(job: Job) -> None:
        dispatch = DispatchAutomation.decode(payload_of(job))
        use_case = await provide(container.dispatch_automation)
        await use_case.execute(dispatch.organization_id, dispatch.automation_id)

    async def import_contacts(job: Job) -> None:
        work = ImportContacts.decode(payload_of(job))
        await (await provide(container.run_contact_import)).execute(work.organization_id, work.import_id)

    async def flow_timer(job: Job) -> None:
        timer = FlowTimer.decode(payload_of(job))
        use_case = await provide(container.deliver_flow_event)
        await use_case.timer(timer.organization_id, timer.execution_id, timer.timer_id)

    async def flow_http(job: Job) -> None:
        await (await provide(container.run_flow_http_call)).execute(FlowHttp.decode(payload_of(job)))

    async def sync_templates(job: Job) -> None:
        sync = SyncTemplates.decode(payload_of(job))
        await (await provide(container.sync_templates)).execute(sync.organization_id, sync.number_id)

    async def upload_media(job: Job) -> None:
        work = UploadMedia.decode(payload_of(job))
        await (await provide(container.run_media_upload)).execute(work.organization_id, work.upload_id)

    async def mark_read(job: Job) -> None:
        read = MarkRead.decode(payload_of(job))
        await (await provide(container.run_mark_read)).execute(read.organization_id, read.message_id, read.typing)

    async def expire_flow_executions(_job: Job) -> None:
        await (await provide(container.expire_flow_executions)).execute()

    async def publish_automation_progress(job: Job) -> None:
        work = PublishAutomationProgress.decode(payload_of(job))
        await (await provide(container.publish_automation_progress)).execute(work)

    return {SendEmail.entrypoint: send_email, VerifyNumber.entrypoint: verify_number,
            DispatchAutomation.entrypoint: dispatch_automation, ImportContacts.entrypoint: import_contacts,
            FlowTimer.entrypoint: flow_timer, FlowHttp.entrypoint: flow_http,
            SyncTemplates.entrypoint: sync_templates, UploadMedia.entrypoint: upload_media,
            MarkRead.entrypoint: mark_read, EXPIRE_FLOW_EXECUTIONS: expire_flow_executions,
            PublishAutomationProgress.entrypoint: publish_automation_progress}


def build_dead_letter_hooks(container: Container) -> dict[str, DeadLetterHook]:
    """What to record when a job gives up for good (its retries exhausted, or a poison job): every job with a
    subject leaves it in a final, explained state. (Sends are not jobs: the sender fails a message with Meta's
    last error once its attempts are spent.) A payload that cannot be decoded has no subject to tell."""

    def why(error: BaseException) -> str:
        text = error.message if isinstance(error, DomainError) else type(error).__name__
        return text[:300]

    async def import_gave_up(job: Job, error: BaseException) -> None:
        work = ImportContacts.decode(payload_of(job))
        use_case = await provide(container.fail_contact_import)
        await use_case.execute(work.organization_id, work.import_id, code="import_interrupted",
                               reason="The import stopped after repeated errors "
                                      f"({type(error).__name__}); run it again to resume where it stopped.")

    async def verification_gave_up(job: Job, error: BaseException) -> None:
        check = VerifyNumber.decode(payload_of(job))
        await (await provide(container.give_up_number_verification)).execute(
            check.organization_id, check.number_id,
            f"Verification with the Graph API gave up: {why(error)}. Register the number again.")

    async def dispatch_gave_up(job: Job, error: BaseException) -> None:
        dispatch = DispatchAutomation.decode(payload_of(job))
        await (await provide(container.stop_automation_dispatch)).execute(
            dispatch.organization_id, dispatch.automation_id,
            f"Dispatching stopped after repeated errors ({why(error)}); resume the automation to continue.")

    async def timer_gave_up(job: Job, _error: BaseException) -> None:
        timer = FlowTimer.decode(payload_of(job))
        await (await provide(container.fail_flow_execution)).execute(timer.organization_id, timer.execution_id)

    async def http_gave_up(job: Job, _error: BaseException) -> None:
        call = FlowHttp.decode(payload_of(job))
        await (await provide(container.fail_flow_execution)).execute(call.organization_id, call.execution_id)

    async def upload_gave_up(job: Job, error: BaseException) -> None:
        work = UploadMedia.decode(payload_of(job))
        await (await provide(container.fail_media_upload)).execute(
            work.organization_id, work.upload_id, f"The upload to WhatsApp gave up: {why(error)}. Upload it again.")

    hooks = {ImportContacts.entrypoint: import_gave_up, UploadMedia.entrypoint: upload_gave_up,
             VerifyNumber.entrypoint: verification_gave_up,
             DispatchAutomation.entrypoint: dispatch_gave_up, FlowTimer.entrypoint: timer_gave_up,
             FlowHttp.entrypoint: http_gave_up}
    return {name: _tolerant(name, hook) for name, hook in hooks.items()}


def _tolerant(name: str, hook: DeadLetterHook) -> DeadLetterHook:
    """A hook never turns a dead letter into a crash: a payload it cannot read or a failing database is logged."""

    async def run(job: Job, error: BaseException) -> None:
        try:
            await hook(job, error)
        except Exception as failure:  # noqa: BLE001 - the job stays dead-lettered for operators either way
            log.error("job.dead_letter_hook_failed", entrypoint=name, job_id=job.id,
                      error_type=type(failure).__name__)

    return run
