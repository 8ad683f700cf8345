"""Worker jobs of flows: timers, HTTP calls with vault secrets, and the expiry sweep.

Events reach an execution under the per-contact lock, taken in the same order as the inbound path
(the conversation row, then the execution row) so a timer and a reply never deadlock each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import structlog

from application.jobs import FlowHttp
from application.ports.common import Clock
from application.ports.flows import HttpCaller, HttpCallError
from application.ports.uow import UnitOfWork, UnitOfWorkFactory
from application.use_cases.flows.http_payload import MalformedHttpJob, decode_call
from application.use_cases.flows.runtime import FlowRuntime
from application.use_cases.flows.scrub import scrub
from application.use_cases.vault.resolve_secret import ResolveSecret, ResolveSecretQuery
from domain.errors import DomainError
from domain.flows import Event, HttpCallFinished, TimerFired, expire
from domain.flows.records import FlowExecution
from domain.flows.templates import render_body
from domain.vault import SecretEnvironment

log = structlog.get_logger("pytake.flows")

ENVIRONMENT_PREFERENCE = (SecretEnvironment.PRODUCTION, SecretEnvironment.STAGING, SecretEnvironment.DEVELOPMENT)


async def locked_execution(uow: UnitOfWork, execution_id: UUID) -> FlowExecution | None:
    """The execution, locked after its conversation (the inbound path's lock order); None when it is over."""
    found = await uow.flow_executions.get(execution_id)
    if found is None or not found.is_running:
        return None
    await uow.conversations.get_for_update(found.number_id, found.contact_id, found.updated_at)
    execution = await uow.flow_executions.get(execution_id, for_update=True)
    return execution if execution is not None and execution.is_running else None


class DeliverFlowEvent:
    """Deliver a timer or HTTP result to a running execution, under its lock."""

    def __init__(self, *, uow: UnitOfWorkFactory, runtime: FlowRuntime, clock: Clock) -> None:
        self._uow, self._runtime, self._clock = uow, runtime, clock

    async def execute(self, organization_id: UUID, execution_id: UUID, event: Event) -> bool:
        async with self._uow(organization_id) as uow:
            execution = await locked_execution(uow, execution_id)
            if execution is None:
                return False
            changed = await self._runtime.deliver(uow, execution, event, self._clock.now())
            await uow.commit()
        return changed

    async def timer(self, organization_id: UUID, execution_id: UUID, timer_id: str) -> bool:
        return await self.execute(organization_id, execution_id, TimerFired(timer_id=timer_id))


class SecretLookup:
    """``{{secret:KEY}}`` -> the value of the organization's secret with that key, in any environment
    (production first, then staging, then development) and preferring one with no service. Every
    resolution is counted in the secret's usage; values are only ever held in memory."""

    def __init__(self, *, uow: UnitOfWorkFactory, resolve: ResolveSecret) -> None:
        self._uow, self._resolve = uow, resolve

    async def _secret_id(self, organization_id: UUID, key: str) -> UUID | None:
        candidates = []
        async with self._uow(organization_id) as uow:
            offset, total = 0, 1
            while offset < total:
                page, total = await uow.secrets.search(environment=None, service=None, limit=200, offset=offset)
                candidates += [s for s in page if s.key.value == key]
                offset += 200
        if not candidates:
            return None
        best = min(candidates, key=lambda s: (ENVIRONMENT_PREFERENCE.index(s.environment), s.service is not None))
        return best.id

    async def values(self, organization_id: UUID, keys: set[str]) -> dict[str, str]:
        """Raises SecretUnavailable naming the key (never a value)."""
        values = {}
        for key in sorted(keys):
            secret_id = await self._secret_id(organization_id, key)
            if secret_id is None:
                raise SecretUnavailable(f"secret {key!r} was not found in the vault")
            try:
                resolved = await self._resolve.execute(ResolveSecretQuery(organization_id=organization_id,
                                                                          secret_id=secret_id))
            except DomainError as e:
                raise SecretUnavailable(f"secret {key!r} is unavailable ({e.code})") from None
            values[key] = resolved.value.reveal()
        return values


class SecretUnavailable(Exception):
    pass


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


class ExpireFlowExecutions:
    """The periodic sweep: running executions past their maximum lifetime end as ``expired``."""

    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, batch_size: int = 500) -> None:
        self._uow, self._clock, self._batch = uow, clock, batch_size

    async def execute(self) -> int:
        now, expired = self._clock.now(), 0
        while True:
            async with self._uow() as uow:
                overdue = await uow.flow_executions.expire_overdue(now, self._batch)
                for execution in overdue:
                    execution.state, execution.updated_at = expire(execution.state, now).state, now
                    await uow.flow_executions.update(execution)
                await uow.commit()
            expired += len(overdue)
            if len(overdue) < self._batch:
                break
        if expired:
            log.info("flow.executions_expired", count=expired)
        return expired
