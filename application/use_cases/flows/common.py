"""Helpers of the flow use cases: a flow's view and checks, loading a flow, the per-contact lock of an execution."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from application.ports.flows import FlowStats
from application.ports.uow import UnitOfWork
from domain.errors import InvalidValue
from domain.flows.records import Flow, FlowExecution, FlowNotFound

NAME_MAX, DESCRIPTION_MAX = 255, 2000


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowView:
    flow: Flow
    stats: FlowStats | None = None


def _name(name: str) -> str:
    cleaned = name.strip()
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidValue(f"name must be 1 to {NAME_MAX} characters.")
    return cleaned


def _description(text: str | None) -> str | None:
    if text is not None and len(text) > DESCRIPTION_MAX:
        raise InvalidValue(f"description has at most {DESCRIPTION_MAX} characters.")
    return text or None


async def load_flow(uow: UnitOfWork, flow_id: UUID, *, for_update: bool = False) -> Flow:
    flow = await uow.flows.get(flow_id, for_update=for_update)
    if flow is None:
        raise FlowNotFound()
    return flow


async def locked_execution(uow: UnitOfWork, execution_id: UUID) -> FlowExecution | None:
    """The execution, locked after its conversation (the inbound path's lock order); None when it is over."""
    found = await uow.flow_executions.get(execution_id)
    if found is None or not found.is_running:
        return None
    await uow.conversations.get_or_create_locked(found.number_id, found.contact_id, found.updated_at)
    execution = await uow.flow_executions.get(execution_id, for_update=True)
    return execution if execution is not None and execution.is_running else None
