"""The flow runtime: runs the pure engine on a persisted execution and carries out its commands.

Everything happens inside the caller's transaction: the new state, the queued messages, the timer and
HTTP jobs and the handoff commit together or not at all. The caller holds the per-contact lock (the
execution row, locked by ``running_for``/``get(for_update=True)``), so two events never advance one
execution at the same time.

- Messages of one event (and of the flows it chains into with goto_flow) are stored ``queued``; the sender
  sends one recipient's messages one after the other in the order they were queued, so the contact reads
  them in the order the flow wrote them.
- ``ScheduleTimer`` -> a delayed ``flow_timer`` job. ``CancelTimer`` needs nothing: the engine ignores a
  timer that is not the one it waits for.
- ``CallHttp`` -> a ``flow_http`` job (``http_payload.py``: its templates keep the author's secret references
  apart; the job resolves them at call time and nothing resolved is stored).
- ``HandOff`` -> the conversation is handed to a human (``waiting``); the bot stays silent until it is closed.
- ``StartFlow`` -> the target flow's published version starts for the contact (the current execution has
  just completed); a target that is missing or not active fails the execution instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import structlog

from application import events
from application.jobs import FlowHttp, FlowTimer, enqueue
from application.messaging import conversations
from application.messaging.outbound import queue_outbound
from application.ports.uow import UnitOfWork
from application.use_cases.flows.http_payload import encode_call
from domain.channel import WhatsAppNumber
from domain.contacts import Contact
from domain.flows import (
    DEFAULT_MAX_STEPS,
    CallHttp,
    Command,
    ContactInfo,
    Event,
    ExecutionState,
    ExecutionStatus,
    HandOff,
    ScheduleTimer,
    SendButtons,
    SendList,
    SendTemplate,
    SendText,
    Started,
    StartFlow,
    advance,
)
from domain.flows.records import ExecutionAlreadyRunning, Flow, FlowExecution, FlowNotActive, FlowStatus

log = structlog.get_logger("pytake.flows")

GOTO_TARGET_UNAVAILABLE = "goto_flow_target_unavailable"
VERSION_MISSING = "flow_version_missing"


def contact_info(contact: Contact) -> ContactInfo:
    return ContactInfo(whatsapp_id=contact.whatsapp_id or "", name=contact.name, email=contact.email,
                       attributes=dict(contact.attributes))


def message_of(command: Command) -> tuple[str, dict[str, Any]] | None:
    """The stored message (kind, content) a send command becomes; None for other commands."""
    match command:
        case SendText() if command.media_url is not None or command.media_id is not None:
            media: dict[str, Any] = ({"media_id": command.media_id} if command.media_id is not None
                                     else {"link": command.media_url})
            if command.text.strip() and command.media_type != "audio":
                media["caption"] = command.text
            if command.filename is not None and command.media_type == "document":
                media["filename"] = command.filename
            return command.media_type, media
        case SendText():
            return "text", {"text": command.text}
        case SendTemplate():
            components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in command.parameters]}]
            return "template", {"template": {"name": command.name, "language": command.language,
                                             "components": components if command.parameters else []}}
        case SendButtons():
            return "interactive", {"text": command.text,
                                   "buttons": [{"id": b.id, "title": b.title} for b in command.buttons]}
        case SendList():
            sections = [{"title": s.title, "rows": [
                {"id": r.id, "title": r.title, **({"description": r.description} if r.description else {})}
                for r in s.rows]} for s in command.sections]
            return "interactive", {"text": command.text, "button": command.button, "sections": sections}
    return None


class FlowRuntime:
    def __init__(self, *, ttl: timedelta = timedelta(hours=72), max_steps: int = DEFAULT_MAX_STEPS) -> None:
        self._ttl, self._max_steps = ttl, max_steps

    async def start(self, uow: UnitOfWork, *, flow_id: UUID, number: WhatsAppNumber, contact: Contact,
                    variables: Mapping[str, Any], trigger: str, automation_id: UUID | None = None,
                    now: datetime, goto_depth: int = 0) -> UUID | None:
        """Start the flow's published version; None when the contact already has a running execution.
        Raises FlowNotActive when the flow is missing, not active or never published."""
        return await self._start(uow, flow_id=flow_id, number=number, contact=contact, variables=variables,
                                 trigger=trigger, automation_id=automation_id, now=now, goto_depth=goto_depth)

    async def deliver(self, uow: UnitOfWork, execution: FlowExecution, event: Event, now: datetime) -> bool:
        """Advance a (locked) execution with an event; False when the engine ignored the event."""
        return await self._deliver(uow, execution, event, now)

    async def _start(self, uow: UnitOfWork, *, flow_id: UUID, number: WhatsAppNumber,
                     contact: Contact, variables: Mapping[str, Any], trigger: str, automation_id: UUID | None,
                     now: datetime, goto_depth: int) -> UUID | None:
        flow = await uow.flows.get(flow_id)
        if not _startable(flow):
            raise FlowNotActive()
        assert flow is not None and flow.published_version is not None
        execution = FlowExecution(
            id=uuid4(), organization_id=number.organization_id, flow_id=flow.id, version=flow.published_version,
            contact_id=contact.id, number_id=number.id, state=ExecutionState(), trigger=trigger,
            automation_id=automation_id, started_at=now, updated_at=now, expires_at=now + self._ttl)
        try:
            await uow.flow_executions.add(execution)
        except ExecutionAlreadyRunning:
            return None
        event = Started(contact=contact_info(contact), variables=dict(variables), goto_depth=goto_depth)
        await self._deliver(uow, execution, event, now, number=number, contact=contact)
        log.info("flow.started", flow_id=str(flow.id), execution_id=str(execution.id), trigger=trigger,
                 status=execution.status.value)
        return execution.id

    async def _deliver(self, uow: UnitOfWork, execution: FlowExecution, event: Event, now: datetime,
                       *, number: WhatsAppNumber | None = None, contact: Contact | None = None) -> bool:
        version = await uow.flows.get_version(execution.flow_id, execution.version)
        number = number or await uow.numbers.get(execution.number_id)
        contact = contact or await uow.contacts.get(execution.contact_id)
        if version is None or number is None or contact is None:
            await self._save(uow, execution, _failed(execution.state, VERSION_MISSING, now), now)
            return True
        result = advance(version.graph(), execution.state, event, now, max_steps=self._max_steps)
        if result.state is execution.state and not result.commands:
            return False
        state, goto, target = result.state, None, None
        for command in result.commands:
            if isinstance(command, StartFlow):
                goto, target = command, await _goto_target(uow, command.flow_id)
                if target is None:
                    state = _failed(state, GOTO_TARGET_UNAVAILABLE, now)
        await self._save(uow, execution, state, now)
        for command in result.commands:
            await self._carry_out(uow, execution, number, contact, command, now)
        if goto is not None and target is not None:
            await self._start(uow, flow_id=target.id, number=number, contact=contact,
                              variables=goto.variables, trigger="goto_flow", automation_id=execution.automation_id,
                              now=now, goto_depth=goto.goto_depth)
        return True

    @staticmethod
    async def _save(uow: UnitOfWork, execution: FlowExecution, state: ExecutionState, now: datetime) -> None:
        was_running = execution.is_running
        execution.state, execution.updated_at = state, now
        await uow.flow_executions.update(execution)
        if was_running and not execution.is_running:
            events.flow_execution_finished(uow, execution)

    async def _carry_out(self, uow: UnitOfWork, execution: FlowExecution, number: WhatsAppNumber,
                         contact: Contact, command: Command, now: datetime) -> None:
        outbound = message_of(command)
        if outbound is not None:
            kind, content = outbound
            await queue_outbound(uow, number=number, contact=contact, kind=kind, content=content, now=now,
                                 source="flow")
        elif isinstance(command, ScheduleTimer):
            await enqueue(uow, FlowTimer(organization_id=execution.organization_id, execution_id=execution.id,
                                         timer_id=command.timer_id),
                          dedupe_key=f"flow_timer:{execution.id}:{command.timer_id}",
                          delay=max(command.fire_at - now, timedelta(0)))
        elif isinstance(command, CallHttp):
            await enqueue(uow, FlowHttp(organization_id=execution.organization_id, execution_id=execution.id,
                                        call=encode_call(command)),
                          dedupe_key=f"flow_http:{execution.id}:{command.call_id}")
        elif isinstance(command, HandOff):
            await conversations.hand_off(uow, number.id, contact.id, now)
            log.info("flow.handed_off", execution_id=str(execution.id), reason=command.reason)


def _startable(flow: Flow | None) -> bool:
    return flow is not None and flow.status is FlowStatus.ACTIVE and flow.published_version is not None


async def _goto_target(uow: UnitOfWork, flow_id: str) -> Flow | None:
    try:
        target = await uow.flows.get(UUID(flow_id))
    except ValueError:
        return None
    return target if _startable(target) else None


def _failed(state: ExecutionState, reason: str, now: datetime) -> ExecutionState:
    return replace(state, status=ExecutionStatus.FAILED, fail_reason=reason, waiting_for=None,
                   pending_timer_id=None, pending_call_id=None, finished_at=state.finished_at or now)

