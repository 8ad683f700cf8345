"""Job handlers: decode the payload with its job class (application/jobs.py), call the use case or port."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pgqueuer.models import Job

from application.jobs import (
    EXPIRE_FLOW_EXECUTIONS,
    DispatchAutomation,
    FlowHttp,
    FlowTimer,
    ImportContacts,
    PublishAutomationProgress,
    SendEmail,
    VerifyNumber,
)
from entrypoints.container import Container
from entrypoints.runtime import provide

Handler = Callable[[Job], Awaitable[None]]
DeadLetterHook = Callable[[Job, BaseException], Awaitable[None]]


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

    async def expire_flow_executions(_job: Job) -> None:
        await (await provide(container.expire_flow_executions)).execute()

    async def publish_automation_progress(job: Job) -> None:
        work = PublishAutomationProgress.decode(payload_of(job))
        await (await provide(container.publish_automation_progress)).execute(work)

    return {SendEmail.entrypoint: send_email, VerifyNumber.entrypoint: verify_number,
            DispatchAutomation.entrypoint: dispatch_automation, ImportContacts.entrypoint: import_contacts,
            FlowTimer.entrypoint: flow_timer, FlowHttp.entrypoint: flow_http,
            EXPIRE_FLOW_EXECUTIONS: expire_flow_executions,
            PublishAutomationProgress.entrypoint: publish_automation_progress}


def build_dead_letter_hooks(container: Container) -> dict[str, DeadLetterHook]:
    """What to record when a job gives up for good (its retries exhausted, or a poison job)."""

    async def import_gave_up(job: Job, error: BaseException) -> None:
        work = ImportContacts.decode(payload_of(job))
        use_case = await provide(container.fail_contact_import)
        await use_case.execute(work.organization_id, work.import_id, code="import_interrupted",
                               reason="The import stopped after repeated errors "
                                      f"({type(error).__name__}); run it again to resume where it stopped.")

    return {ImportContacts.entrypoint: import_gave_up}
