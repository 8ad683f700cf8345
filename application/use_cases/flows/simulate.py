"""Run a flow's current graph (drafts too) through the same engine, with no WhatsApp, for the editor.

Started, then each message as a reply. Delays fire at once (the simulated clock jumps to them); a
question's timeout never fires (the messages given are the contact's answers). HTTP calls are not made:
the node gets ``error="not executed in the simulator"`` unless ``http_responses[node_id]`` gives
``{status_code, body}``. ``goto_flow`` ends the simulation of this flow (the target is not followed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from application.authorization import Actor, Permission
from application.ports.common import Clock
from application.ports.uow import UnitOfWorkFactory
from application.use_cases.flows.common import load_flow
from domain.flows import (
    CallHttp,
    Command,
    ContactInfo,
    ContactReplied,
    Event,
    ExecutionState,
    FlowGraph,
    HandOff,
    HttpCallFinished,
    ScheduleTimer,
    SendButtons,
    SendList,
    SendTemplate,
    SendText,
    Started,
    StartFlow,
    TimerFired,
    WaitingFor,
    advance,
)

NOT_EXECUTED = "not executed in the simulator"
MAX_AUTOMATIC_EVENTS = 200
SIMULATED_CONTACT = ContactInfo(whatsapp_id="5500000000000", name="Test Contact")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedMessage:
    text: str | None = None
    reply_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulateCommand:
    flow_id: UUID
    messages: list[SimulatedMessage] = field(default_factory=list)
    variables: Mapping[str, Any] = field(default_factory=dict)
    contact: ContactInfo | None = None
    http_responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Simulation:
    transcript: list[dict[str, Any]]
    state: ExecutionState


def transcript_entry(command: Command) -> dict[str, Any] | None:
    match command:
        case SendText():
            media = {"media_type": command.media_type, "media_url": command.media_url, "media_id": command.media_id}
            return {"from": "bot", "kind": "text", "text": command.text,
                    **({k: v for k, v in media.items() if v is not None}
                       if command.media_url or command.media_id else {})}
        case SendButtons():
            return {"from": "bot", "kind": "buttons", "text": command.text,
                    "buttons": [{"id": b.id, "title": b.title} for b in command.buttons]}
        case SendList():
            return {"from": "bot", "kind": "list", "text": command.text, "button": command.button,
                    "sections": [{"title": s.title, "rows": [{"id": r.id, "title": r.title,
                                                              "description": r.description} for r in s.rows]}
                                 for s in command.sections]}
        case SendTemplate():
            return {"from": "bot", "kind": "template", "name": command.name, "language": command.language,
                    "parameters": list(command.parameters)}
        case CallHttp():
            return {"from": "bot", "kind": "http_request", "method": command.method,
                    "url": command.url.display()}
        case HandOff():
            return {"from": "bot", "kind": "handoff", "text": command.reason}
        case StartFlow():
            return {"from": "bot", "kind": "goto_flow", "flow_id": command.flow_id}
    return None


class _Run:
    def __init__(self, graph: FlowGraph, now: datetime, http_responses: Mapping[str, Mapping[str, Any]]) -> None:
        self.graph, self.now, self.http = graph, now, http_responses
        self.state = ExecutionState()
        self.transcript: list[dict[str, Any]] = []

    def apply(self, event: Event) -> None:
        pending: Event | None = event
        for _ in range(MAX_AUTOMATIC_EVENTS):
            if pending is None:
                return
            result = advance(self.graph, self.state, pending, self.now)
            self.state, pending = result.state, None
            timer: ScheduleTimer | None = None
            for command in result.commands:
                entry = transcript_entry(command)
                if entry is not None:
                    self.transcript.append(entry)
                if isinstance(command, ScheduleTimer):
                    timer = command
                if isinstance(command, CallHttp):
                    pending = self._http_result(command)
            if self.state.waiting_for is WaitingFor.TIMER and timer is not None:
                self.now = max(self.now, timer.fire_at)
                pending = TimerFired(timer_id=timer.timer_id)

    def _http_result(self, call: CallHttp) -> HttpCallFinished:
        given = self.http.get(self.state.current_node_id or "")
        if given is None:
            return HttpCallFinished(call_id=call.call_id, error=NOT_EXECUTED)
        status = given.get("status_code", 200)
        return HttpCallFinished(call_id=call.call_id, status_code=status if isinstance(status, int) else 200,
                                body=given.get("body"))


class SimulateFlow:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def execute(self, actor: Actor, cmd: SimulateCommand) -> Simulation:
        actor.require(Permission.READ)
        async with self._uow(actor.organization_id) as uow:
            flow = await load_flow(uow, cmd.flow_id)
        run = _Run(flow.graph(), self._clock.now(), cmd.http_responses)
        run.apply(Started(contact=cmd.contact or SIMULATED_CONTACT, variables=dict(cmd.variables)))
        for index, message in enumerate(cmd.messages):
            run.transcript.append({"from": "contact", "kind": "reply" if message.reply_id else "text",
                                   "text": message.text, **({"reply_id": message.reply_id} if message.reply_id
                                                            else {})})
            run.apply(ContactReplied(message_id=f"simulated-{index}", text=message.text, reply_id=message.reply_id))
        return Simulation(transcript=run.transcript, state=run.state)
