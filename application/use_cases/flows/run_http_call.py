"""Worker: an ``http_request`` node's call, made outside any transaction with the author's secret references
resolved from the vault; the result goes back to the execution under its lock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import structlog

from application.jobs import FlowHttp
from application.ports.flows import HttpCaller, HttpCallError
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.deliver_flow_event import DeliverFlowEvent
from application.use_cases.flows.http_payload import MalformedHttpJob, decode_call
from application.use_cases.flows.scrub import scrub
from application.use_cases.vault.secret_lookup import SecretLookup
from domain.flows import HttpCallFinished
from domain.flows.templates import render_body
from domain.vault import SecretUnavailable

log = structlog.get_logger("pytake.flows")


class RunFlowHttpCall:
    """Resolve the request's secrets, call OUTSIDE any transaction, then deliver the result under the lock.
    A worker that dies mid-call retries the job, so a call may be made twice (at-least-once)."""

    def __init__(self, *, uow: UnitOfWorkFactory, caller: HttpCaller, secrets: SecretLookup,
                 events: DeliverFlowEvent) -> None:
        self._uow, self._caller, self._secrets, self._events = uow, caller, secrets, events

    async def execute(self, job: FlowHttp) -> bool:
        organization_id, execution_id, request = job.organization_id, job.execution_id, job.call
        call_id = str(request.get("call_id"))
        async with self._uow(organization_id) as uow:
            execution = await uow.flow_executions.get(execution_id)
            if execution is None or not execution.is_running or execution.state.pending_call_id != call_id:
                return False
        event = await self._call(organization_id, call_id, request)
        return await self._events.execute(organization_id, execution_id, event)

    async def _call(self, organization_id: UUID, call_id: str, request: Mapping[str, Any]) -> HttpCallFinished:
        """Only the secret segments of the author's templates are resolved; an error text never carries a value."""
        secrets: dict[str, str] = {}
        try:
            call = decode_call(request)
            secrets = await self._secrets.values(organization_id, set(call.secret_keys))
            headers = {name.render(secrets): value.render(secrets) for name, value in call.headers}
            response = await self._caller.call(call.method, call.url.render(secrets), headers,
                                               render_body(call.body, secrets), float(call.timeout_seconds))
        except (HttpCallError, SecretUnavailable, MalformedHttpJob) as e:
            message = scrub(e.message if isinstance(e, HttpCallError) else str(e), secrets.values())
            log.info("flow.http_failed", call_id=call_id, error=message)
            return HttpCallFinished(call_id=call_id, error=message)
        return HttpCallFinished(call_id=call_id, status_code=response.status_code, body=response.body)
