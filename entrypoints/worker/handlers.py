"""Job handlers: decode the payload, call the use case or port. One entrypoint name per job kind."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from pgqueuer.models import Job

from application.use_cases.auth.forgot_password import SEND_EMAIL_JOB
from entrypoints.container import Container

Handler = Callable[[Job], Awaitable[None]]


def payload_of(job: Job) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(job.payload or b"{}")
    return data


def build_handlers(container: Container) -> dict[str, Handler]:
    async def send_email(job: Job) -> None:
        data = payload_of(job)
        await container.mailer().send(to=data["to"], subject=data["subject"], body=data["body"])

    return {SEND_EMAIL_JOB: send_email}
