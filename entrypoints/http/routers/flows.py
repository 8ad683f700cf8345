"""/flows: the five contract endpoints, plus a flow's executions and the simulator; and handoff release."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Response, status

from application.use_cases.flows.common import FlowView
from application.use_cases.flows.create_flow import CreateFlow, CreateFlowCommand
from application.use_cases.flows.delete_flow import DeleteFlow
from application.use_cases.flows.get_flow import GetFlow
from application.use_cases.flows.inbound import ReleaseConversation
from application.use_cases.flows.list_executions import ListExecutions
from application.use_cases.flows.list_flows import ListFlows
from application.use_cases.flows.simulate import SimulateCommand, SimulatedMessage, SimulateFlow
from application.use_cases.flows.update_flow import UNSET, UpdateFlow, UpdateFlowCommand
from domain.flows import ContactInfo
from domain.flows.records import FlowExecution
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided, set_total
from entrypoints.http.errors import error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.flows import (
    ExecutionOut,
    FlowCreateIn,
    FlowListItemOut,
    FlowNodeStat,
    FlowOut,
    FlowStats,
    FlowUpdateIn,
    ReleasedOut,
    SimulateIn,
    SimulationOut,
)

router = APIRouter(prefix="/flows", tags=["flows"], route_class=DeprecationAwareRoute)
_FLOW_LIST = ListRenderer(FlowListItemOut)
handoff_router = APIRouter(prefix="/contacts", tags=["contacts"], route_class=DeprecationAwareRoute)


def flow_out(view: FlowView) -> FlowOut:
    flow, stats = view.flow, view.stats
    stats_out = None if stats is None else FlowStats(
        total_executions=stats.total, success_rate=stats.success_rate, avg_duration_ms=stats.avg_duration_ms,
        drop_off=[FlowNodeStat(node_id=n.node_id, reached=n.reached, waiting=n.waiting, dropped=n.dropped)
                  for n in stats.nodes])
    return FlowOut.model_validate({
        "id": flow.id, "name": flow.name, "description": flow.description, "status": flow.status.value,
        "nodes": flow.nodes, "edges": flow.edges, "stats": stats_out, "organization_id": flow.organization_id,
        "created_at": flow.created_at, "updated_at": flow.updated_at,
        "trigger": flow.trigger.to_dict() if flow.trigger else None, "published_version": flow.published_version})


def flow_list_item(view: FlowView, *, with_graph: bool) -> FlowListItemOut:
    flow = view.flow
    graph = {"nodes": flow.nodes, "edges": flow.edges} if with_graph else {}
    return FlowListItemOut.model_validate({
        "id": flow.id, "name": flow.name, "description": flow.description, "status": flow.status.value,
        **graph, "node_count": len(flow.nodes), "edge_count": len(flow.edges), "stats": None,
        "organization_id": flow.organization_id, "created_at": flow.created_at, "updated_at": flow.updated_at,
        "trigger": flow.trigger.to_dict() if flow.trigger else None, "published_version": flow.published_version})


def execution_out(execution: FlowExecution) -> ExecutionOut:
    return ExecutionOut(
        id=execution.id, flow_id=execution.flow_id, version=execution.version, contact_id=execution.contact_id,
        number_id=execution.number_id, status=execution.status.value, current_node_id=execution.current_node_id,
        fail_reason=execution.fail_reason, trigger=execution.trigger, automation_id=execution.automation_id,
        path=list(execution.path), variables=dict(execution.variables), started_at=execution.started_at,
        updated_at=execution.updated_at, finished_at=execution.finished_at, expires_at=execution.expires_at)


def _dump(items: list[Any] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [i.model_dump(exclude_none=True) for i in items]


IncludeParam = Annotated[Literal["graph"] | None, Query(
    description="'graph' adds each flow's nodes and edges (left out by default: a list carries node_count and "
                "edge_count; GET /flows/{id} always has the graph)")]


@router.get("", response_model=list[FlowListItemOut],
            summary="List flows (newest first; the graph only with ?include=graph; stats only on GET /flows/{id})",
            responses=error_responses(401, 403, 422))
async def list_flows(actor: CurrentActor, page: PageParams, include: IncludeParam = None,
                     use_case: ListFlows = provided("list_flows")) -> Response:
    views, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    return json_page(_FLOW_LIST, [flow_list_item(v, with_graph=include == "graph") for v in views], total)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=FlowOut, summary="Create a flow (a draft)",
             responses=error_responses(401, 403, 422))
@inject
async def create_flow(actor: CurrentActor, body: FlowCreateIn,
                      use_case: CreateFlow = Depends(Provide["create_flow"])) -> FlowOut:
    return flow_out(await use_case.execute(actor, CreateFlowCommand(
        name=body.name, description=body.description, nodes=_dump(body.nodes), edges=_dump(body.edges),
        trigger=body.trigger.model_dump() if body.trigger else None)))


@router.get("/{flow_id}", response_model=FlowOut, summary="Get a flow with its stats",
            responses=error_responses(401, 403, 404, 422))
@inject
async def get_flow(actor: CurrentActor, flow_id: UUID, use_case: GetFlow = Depends(Provide["get_flow"])) -> FlowOut:
    return flow_out(await use_case.execute(actor, flow_id))


@router.put("/{flow_id}", response_model=FlowOut,
            summary="Update a flow; status 'active' validates the graph and publishes it as a new version",
            responses=error_responses(400, 401, 403, 404, 422))
@inject
async def update_flow(actor: CurrentActor, flow_id: UUID, body: FlowUpdateIn,
                      use_case: UpdateFlow = Depends(Provide["update_flow"])) -> FlowOut:
    given = body.model_fields_set
    command = UpdateFlowCommand(
        flow_id=flow_id,
        name=body.name if "name" in given and body.name is not None else UNSET,
        description=body.description if "description" in given else UNSET,
        nodes=_dump(body.nodes) if "nodes" in given and body.nodes is not None else UNSET,
        edges=_dump(body.edges) if "edges" in given and body.edges is not None else UNSET,
        status=body.status if "status" in given and body.status is not None else UNSET,
        trigger=(body.trigger.model_dump() if body.trigger else None) if "trigger" in given else UNSET)
    return flow_out(await use_case.execute(actor, command))


@router.delete("/{flow_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete a flow (409 flow_in_use while it has running executions, unless archived first)",
               responses=error_responses(401, 403, 404, 409, 422))
@inject
async def delete_flow(actor: CurrentActor, flow_id: UUID,
                      use_case: DeleteFlow = Depends(Provide["delete_flow"])) -> Response:
    await use_case.execute(actor, flow_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{flow_id}/executions", response_model=list[ExecutionOut],
            summary="The flow's executions, newest first, each with its path of nodes",
            responses=error_responses(401, 403, 404, 422))
@inject
async def list_executions(actor: CurrentActor, flow_id: UUID, page: PageParams, response: Response,
                          use_case: ListExecutions = Depends(Provide["list_flow_executions"])) -> list[ExecutionOut]:
    executions, total = await use_case.execute(actor, flow_id, limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [execution_out(e) for e in executions]


@router.post("/{flow_id}/simulate", response_model=SimulationOut,
             summary="Run the flow's current graph with no WhatsApp and return the transcript",
             responses=error_responses(401, 403, 404, 422))
@inject
async def simulate_flow(actor: CurrentActor, flow_id: UUID, body: SimulateIn,
                        use_case: SimulateFlow = Depends(Provide["simulate_flow"])) -> SimulationOut:
    messages = [SimulatedMessage(text=m) if isinstance(m, str) else SimulatedMessage(text=m.text, reply_id=m.reply_id)
                for m in body.messages]
    contact = None if body.contact is None else ContactInfo(
        whatsapp_id=body.contact.whatsapp_id, name=body.contact.name, email=body.contact.email,
        attributes=body.contact.attributes)
    result = await use_case.execute(actor, SimulateCommand(
        flow_id=flow_id, messages=messages, variables=body.variables, contact=contact,
        http_responses={k: v.model_dump() for k, v in body.http_responses.items()}))
    state = result.state
    return SimulationOut(transcript=result.transcript, status=state.status.value,
                         current_node_id=state.current_node_id,
                         waiting_for=state.waiting_for.value if state.waiting_for else None,
                         fail_reason=state.fail_reason, variables=dict(state.variables), path=list(state.path))


@handoff_router.post("/{contact_id}/release", response_model=ReleasedOut,
                     summary="Give a handed-off conversation back to the bot (flows answer the contact again)",
                     responses=error_responses(401, 403, 404, 422))
@inject
async def release_contact(actor: CurrentActor, contact_id: UUID,
                          use_case: ReleaseConversation = Depends(Provide["release_conversation"])) -> ReleasedOut:
    return ReleasedOut(released=await use_case.execute(actor, contact_id))
