"""Flow automation schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from entrypoints.http.schemas.common import RequestModel, ResponseModel, free_json

AutomationStatusName = Literal["draft", "scheduled", "running", "paused", "completed", "cancelled"]
AutomationPhaseName = Literal["draft", "scheduled", "dispatching", "sending", "paused", "completed", "cancelled"]
RecipientStateName = Literal["pending", "sent", "delivered", "read", "replied", "completed", "failed", "skipped"]


class AudienceContactIn(RequestModel):
    whatsapp_id: str = Field(min_length=1, max_length=32)
    name: str | None = Field(default=None, max_length=255)
    variables: dict[str, Any] = free_json("This recipient's flow variables.", default_factory=dict)


class TemplateIn(RequestModel):
    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: str = Field(default="en_US", min_length=2, max_length=15)
    components: list[dict[str, Any]] = free_json("Meta's components; '{{var}}' is filled per recipient.",
                                                 default_factory=list, max_length=20)


class AutomationConfigIn(RequestModel):
    from_number_id: UUID | None = None
    rate_per_second: float = Field(default=20, gt=0, le=1000, description="Opening messages per second")
    schedule_at: datetime | None = None
    variables: dict[str, Any] = free_json("Default flow variables.", default_factory=dict)
    template: TemplateIn | None = Field(default=None, description="Opening template (required outside the window)")


class AudienceFilterIn(RequestModel):
    """The organization's contacts with this tag (case-insensitive) and/or matching this query (a substring of
    name, email or whatsapp_id, as `GET /contacts?query=`), frozen into the recipient list at creation."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # documented as strings (null is refused), given at least one of them (minProperties)
    tag: str = Field(default=None, min_length=1, max_length=50, examples=["vip"])  # type: ignore[assignment]
    query: str = Field(default=None, min_length=1, max_length=255, examples=["silva"])  # type: ignore[assignment]

    @model_validator(mode="after")
    def _one_given(self) -> AudienceFilterIn:
        if self.tag is None and self.query is None:
            raise ValueError("an audience filter needs a tag or a query")
        return self


class AutomationCreateIn(RequestModel):
    flow_id: UUID
    contacts: Annotated[list[UUID | AudienceContactIn], Field(min_length=1, max_length=100_000)] | AudienceFilterIn \
        = Field(description="The audience: a list of contact ids and/or `{whatsapp_id, name?, variables?}` "
                            "objects, or a filter `{\"tag\": \"vip\"}` / `{\"query\": \"silva\"}` resolved "
                            "at creation (at most 100,000 contacts either way)")
    config: AutomationConfigIn = Field(default_factory=AutomationConfigIn)


class AutomationOut(ResponseModel):
    id: UUID
    flow_id: UUID
    status: AutomationStatusName
    config: dict[str, Any]
    total_contacts: int
    organization_id: UUID
    number_id: UUID
    paused_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


class StartedOut(ResponseModel):
    status: Literal["started"] = "started"


class AutomationStatsOut(ResponseModel):
    automation_id: UUID
    status: AutomationStatusName
    total: int
    pending: int
    sent: int
    delivered: int
    read: int
    replied: int
    completed: int
    failed: int
    skipped: int
    started_at: datetime | None = None
    finished_at: datetime | None = None
    messages_per_second: float = Field(description="Opening messages WhatsApp accepted per second, from the start "
                                                   "to the last acceptance (to now while sending)")
    paused_reason: str | None = None
    phase: AutomationPhaseName = Field(description="A running automation is `dispatching` (opening messages still "
                                                   "being queued) or `sending` (all queued, some sends not final); "
                                                   "`completed` means every recipient's send is final")
    dispatched: int = Field(description="Recipients whose opening message was queued")
    accepted: int = Field(description="Opening messages WhatsApp accepted")
    dispatched_per_second: float = Field(description="Opening messages queued per second while dispatching")
    dispatch_finished_at: datetime | None = None


class RecipientOut(ResponseModel):
    id: UUID
    contact_id: UUID
    whatsapp_id: str
    state: RecipientStateName
    message_id: UUID | None = None
    execution_id: UUID | None = None
    dispatched_at: datetime | None = None
    error_code: int | None = None
    error_title: str | None = None
    skip_reason: str | None = None
    variables: dict[str, Any]
    updated_at: datetime
