"""Flow schemas: the contract's Flow, FlowNode and FlowEdge, plus triggers, executions and the simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import MISSING, BaseModel, ConfigDict, Field

from domain.flows.limits import EDGES_MAX, GRAPH_MAX_BYTES, NODES_MAX
from entrypoints.http.schemas.common import CheckedModel, RequestModel, ResponseModel, free_json, read_only
from entrypoints.http.schemas.contacts import ATTRIBUTES_MAX_BYTES

_GRAPH_LIMIT = "Nodes and edges together take at most 1 MiB as JSON (422 flow_too_large)."
_NODES_DOC = f"At most {NODES_MAX} nodes. {_GRAPH_LIMIT}"
_EDGES_DOC = f"At most {EDGES_MAX} edges. {_GRAPH_LIMIT}"
_GRAPH_EXTRA = ConfigDict(json_schema_extra={"x-max-graph-bytes": GRAPH_MAX_BYTES})


class Position(BaseModel):
    x: float = 0
    y: float = 0


class FlowNode(CheckedModel):
    """A React Flow node. ``type`` is one of the node types (see the README); other editor keys are kept."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    type: str = Field(max_length=50)
    position: Position = Field(default_factory=Position)
    data: dict[str, Any] = free_json("The node's settings (see the node types).", default_factory=dict)


class FlowEdge(BaseModel):
    """A React Flow edge; ``sourceHandle`` picks the branch (a button id, ``true``/``false``, ``success``...)."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, max_length=200)
    source: str = Field(max_length=200)
    target: str = Field(max_length=200)
    sourceHandle: str | None = Field(default=None, max_length=256)  # noqa: N815 - React Flow's name
    targetHandle: str | None = Field(default=None, max_length=256)  # noqa: N815


class FlowTrigger(BaseModel):
    type: Literal["keyword", "default"]
    keywords: list[str] = Field(default_factory=list, max_length=50,
                                description="keyword triggers: a message equal to one, or starting with one as "
                                            "its first word (case-insensitive)")


class FlowNodeStat(ResponseModel):
    node_id: str
    reached: int
    waiting: int
    dropped: int


class FlowStats(ResponseModel):
    total_executions: int = 0
    success_rate: float = Field(0.0, description="completed / finished executions (0 when none finished)")
    avg_duration_ms: float | None = Field(None, description="mean duration of completed executions")
    drop_off: list[FlowNodeStat] = Field(default_factory=list, description="per node: executions that reached "
                                         "it, wait on it now, or ended there without completing")


class _FlowFields(ResponseModel):
    """What ``Flow`` and a flow in a list share (everything but the graph and the stats)."""

    id: UUID
    name: str
    description: str | None = None
    status: Literal["active", "draft", "archived"]
    organization_id: UUID
    created_at: datetime
    updated_at: datetime
    trigger: FlowTrigger | None = None
    published_version: int | None = None


class FlowOut(_FlowFields):
    nodes: list[FlowNode]
    edges: list[FlowEdge]
    stats: FlowStats | None = None


class FlowListItemOut(_FlowFields):
    """A flow in ``GET /flows``: its graph only with ``?include=graph`` (the key is absent otherwise, never null),
    its size always. No stats (GET /flows/{id} has them)."""

    nodes: list[FlowNode] | MISSING = Field(MISSING, description="Only with ?include=graph")
    edges: list[FlowEdge] | MISSING = Field(MISSING, description="Only with ?include=graph")
    node_count: int
    edge_count: int
    stats: None = Field(None, description="Always null here: stats are only computed by GET /flows/{id}")


class FlowCreateIn(RequestModel):
    model_config = _GRAPH_EXTRA

    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    nodes: list[FlowNode] = Field(default_factory=list, max_length=NODES_MAX, description=_NODES_DOC)
    edges: list[FlowEdge] = Field(default_factory=list, max_length=EDGES_MAX, description=_EDGES_DOC)
    trigger: FlowTrigger | None = None


class FlowUpdateIn(RequestModel):
    model_config = _GRAPH_EXTRA

    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    nodes: list[FlowNode] | None = Field(default=None, max_length=NODES_MAX, description=_NODES_DOC)
    edges: list[FlowEdge] | None = Field(default=None, max_length=EDGES_MAX, description=_EDGES_DOC)
    status: Literal["draft", "active", "archived"] | None = Field(
        default=None, description="'active' publishes: the graph is validated and snapshotted as a new version")
    trigger: FlowTrigger | None = Field(default=None, description="null removes the trigger")
    id: UUID | None = read_only()
    stats: FlowStats | None = read_only()
    organization_id: UUID | None = read_only()
    created_at: datetime | None = read_only()
    updated_at: datetime | None = read_only()
    published_version: int | None = read_only()


class ExecutionOut(ResponseModel):
    id: UUID
    flow_id: UUID
    version: int
    contact_id: UUID
    number_id: UUID
    status: str
    current_node_id: str | None = None
    fail_reason: str | None = None
    trigger: str
    automation_id: UUID | None = None
    path: list[str]
    variables: dict[str, Any]
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    expires_at: datetime


class SimulatedReply(RequestModel):
    text: str | None = Field(default=None, max_length=4096)
    reply_id: str | None = Field(default=None, max_length=256, description="a tapped button or list row id")


class SimulatedContact(RequestModel):
    whatsapp_id: str = Field(default="5500000000000", max_length=32)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=254)
    attributes: dict[str, Any] = free_json("Custom fields.", max_bytes=ATTRIBUTES_MAX_BYTES, default_factory=dict)


class SimulatedHttpResponse(RequestModel):
    status_code: int = Field(default=200, ge=100, le=599)
    body: Any = free_json("The response's JSON (or text).", default=None)


class SimulateIn(RequestModel):
    messages: list[str | SimulatedReply] = Field(default_factory=list, max_length=100)
    variables: dict[str, Any] = free_json("Starting variables.", default_factory=dict)
    contact: SimulatedContact | None = None
    http_responses: dict[str, SimulatedHttpResponse] = Field(
        default_factory=dict, description="by http_request node id; without one the call ends in its error branch")


class SimulationOut(ResponseModel):
    transcript: list[dict[str, Any]] = Field(description="[{from: bot|contact, kind, text, buttons?, ...}]")
    status: str
    current_node_id: str | None = None
    waiting_for: str | None = None
    fail_reason: str | None = None
    variables: dict[str, Any]
    path: list[str]


class ReleasedOut(ResponseModel):
    released: int = Field(description="conversations given back to the bot")
