"""Job handlers: decode the payload, call the use case or port. One entrypoint name per job kind."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from pgqueuer.models import Job

from application.use_cases.auth.forgot_password import SEND_EMAIL_JOB
from application.use_cases.automations.jobs import DISPATCH_AUTOMATION_JOB
from application.use_cases.contacts.jobs import IMPORT_CONTACTS_JOB
from application.use_cases.flows.jobs import EXPIRE_FLOW_EXECUTIONS_JOB, FLOW_HTTP_JOB, FLOW_TIMER_JOB
from application.use_cases.whatsapp.jobs import VERIFY_NUMBER_JOB
from entrypoints.container import Container
from entrypoints.runtime import provide

Handler = Callable[[Job], Awaitable[None]]
DeadLetterHook = Callable[[Job, BaseException], Awaitable[None]]


def payload_of(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(job.payload or b"{}")
    return data


def build_handlers(container: Container) -> dict[str, Handler]:
    async def send_email(job: Job) -> None:
        data = payload_of(job)
        await (await provide(container.mailer)).send(to=data["to"], subject=data["subject"], body=data["body"])

    async def verify_number(job: Job) -> None:
        data = payload_of(job)
        use_case = await provide(container.verify_number)
        await use_case.execute(UUID(data["organization_id"]), UUID(data["number_id"]))

    async def dispatch_automation(job: Job) -> None:
        data = payload_of(job)
        use_case = await provide(container.dispatch_automation)
        await use_case.execute(UUID(data["organization_id"]), UUID(data["automation_id"]))

    async def import_contacts(job: Job) -> None:
        data = payload_of(job)
        use_case = await provide(container.run_contact_import)
        await use_case.execute(UUID(data["organization_id"]), UUID(data["import_id"]))

    handlers: dict[str, Handler] = {SEND_EMAIL_JOB: send_email, VERIFY_NUMBER_JOB: verify_number,
                                    DISPATCH_AUTOMATION_JOB: dispatch_automation, IMPORT_CONTACTS_JOB: import_contacts}
    handlers.update(flow_handlers(container))
    return handlers


def flow_handlers(container: Container) -> dict[str, Handler]:
    async def flow_timer(job: Job) -> None:
        data = payload_of(job)
        use_case = await provide(container.deliver_flow_event)
        await use_case.timer(UUID(data["organization_id"]), UUID(data["execution_id"]), str(data["timer_id"]))

    async def flow_http(job: Job) -> None:
        data = payload_of(job)
        use_case = await provide(container.run_flow_http_call)
        await use_case.execute(UUID(data["organization_id"]), UUID(data["execution_id"]), data)

    async def expire_flow_executions(_job: Job) -> None:
        await (await provide(container.expire_flow_executions)).execute()

    return {FLOW_TIMER_JOB: flow_timer, FLOW_HTTP_JOB: flow_http, EXPIRE_FLOW_EXECUTIONS_JOB: expire_flow_executions}


def build_dead_letter_hooks(container: Container) -> dict[str, DeadLetterHook]:
    """What to record when a job gives up for good (its retries exhausted, or a poison job)."""

    async def import_gave_up(job: Job, error: BaseException) -> None:
        data = payload_of(job)
        use_case = await provide(container.fail_contact_import)
        await use_case.execute(UUID(data["organization_id"]), UUID(data["import_id"]), code="import_interrupted",
                               reason="The import stopped after repeated errors "
                                      f"({type(error).__name__}); run it again to resume where it stopped.")

    return {IMPORT_CONTACTS_JOB: import_gave_up}
