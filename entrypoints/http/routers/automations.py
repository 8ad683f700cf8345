"""/flow-automations: the three contract endpoints plus list, get, pause, resume, cancel and recipients."""

from __future__ import annotations

from typing import Annotated, cast
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Query, Response, status

from application.use_cases.automations.cancel_automation import CancelAutomation
from application.use_cases.automations.create_automation import (
    AudienceEntry,
    AudienceFilter,
    CreateAutomation,
    CreateAutomationCommand,
)
from application.use_cases.automations.get_automation import GetAutomation
from application.use_cases.automations.get_automation_stats import GetAutomationStats
from application.use_cases.automations.list_automations import ListAutomations
from application.use_cases.automations.list_recipients import ListRecipients
from application.use_cases.automations.pause_automation import PauseAutomation
from application.use_cases.automations.resume_automation import ResumeAutomation
from application.use_cases.automations.start_automation import StartAutomation
from domain.automations import RecipientState
from entrypoints.http.deps import CurrentActor, PageParams, json_page, provided
from entrypoints.http.errors import error_responses
from entrypoints.http.rendering import ListRenderer
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.automations import (
    AudienceFilterIn,
    AutomationCreateIn,
    AutomationOut,
    AutomationPhaseName,
    AutomationStatsOut,
    RecipientOut,
    RecipientStateName,
    StartedOut,
)

router = APIRouter(prefix="/flow-automations", tags=["flow-automations"], route_class=DeprecationAwareRoute)
_AUTOMATION_LIST = ListRenderer(AutomationOut)
_RECIPIENT_LIST = ListRenderer(RecipientOut)
_CONTROL_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AutomationOut,
             summary="Create an automation: run an active flow for a frozen list of contacts (or a tag or query)",
             responses=error_responses(400, 401, 403, 404, 422))
@inject
async def create_automation(actor: CurrentActor, body: AutomationCreateIn,
                            use_case: CreateAutomation = Depends(Provide["create_automation"])) -> AutomationOut:
    audience = body.contacts
    entries = [] if isinstance(audience, AudienceFilterIn) else [
        AudienceEntry(contact_id=c) if isinstance(c, UUID) else
        AudienceEntry(whatsapp_id=c.whatsapp_id, name=c.name, variables=c.variables) for c in audience]
    audience_filter = AudienceFilter(tag=audience.tag, query=audience.query) \
        if isinstance(audience, AudienceFilterIn) else None
    config = body.config
    automation = await use_case.execute(actor, CreateAutomationCommand(
        flow_id=body.flow_id, contacts=entries, audience=audience_filter, from_number_id=config.from_number_id,
        rate_per_second=config.rate_per_second, schedule_at=config.schedule_at, variables=config.variables,
        template=config.template.model_dump() if config.template else None))
    return AutomationOut.model_validate(automation)


@router.get("", response_model=list[AutomationOut], summary="List automations (newest first)",
            responses=error_responses(401, 403, 422))
async def list_automations(actor: CurrentActor, page: PageParams,
                           use_case: ListAutomations = provided("list_automations")) -> Response:
    items, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    return json_page(_AUTOMATION_LIST, items, total)


@router.get("/{automation_id}", response_model=AutomationOut, summary="Get an automation",
            responses=error_responses(401, 403, 404, 422))
@inject
async def get_automation(actor: CurrentActor, automation_id: UUID,
                         use_case: GetAutomation = Depends(Provide["get_automation"])) -> AutomationOut:
    return AutomationOut.model_validate(await use_case.execute(actor, automation_id))


@router.post("/{automation_id}/start", response_model=StartedOut,
             summary="Start (or schedule, when schedule_at is in the future); a second start is 409",
             responses=_CONTROL_ERRORS)
@inject
async def start_automation(actor: CurrentActor, automation_id: UUID,
                           use_case: StartAutomation = Depends(Provide["start_automation"])) -> StartedOut:
    await use_case.execute(actor, automation_id)
    return StartedOut()


@router.post("/{automation_id}/pause", response_model=AutomationOut, summary="Pause dispatching",
             responses=_CONTROL_ERRORS)
@inject
async def pause_automation(actor: CurrentActor, automation_id: UUID,
                           use_case: PauseAutomation = Depends(Provide["pause_automation"])) -> AutomationOut:
    return AutomationOut.model_validate(await use_case.execute(actor, automation_id))


@router.post("/{automation_id}/resume", response_model=AutomationOut, summary="Resume dispatching",
             responses=_CONTROL_ERRORS)
@inject
async def resume_automation(actor: CurrentActor, automation_id: UUID,
                            use_case: ResumeAutomation = Depends(Provide["resume_automation"])) -> AutomationOut:
    return AutomationOut.model_validate(await use_case.execute(actor, automation_id))


@router.post("/{automation_id}/cancel", response_model=AutomationOut, summary="Cancel: no further opening messages",
             responses=_CONTROL_ERRORS)
@inject
async def cancel_automation(actor: CurrentActor, automation_id: UUID,
                            use_case: CancelAutomation = Depends(Provide["cancel_automation"])) -> AutomationOut:
    return AutomationOut.model_validate(await use_case.execute(actor, automation_id))


@router.get("/{automation_id}/stats", response_model=AutomationStatsOut, summary="Per-state counts and rate",
            responses=error_responses(401, 403, 404, 422))
@inject
async def automation_stats(actor: CurrentActor, automation_id: UUID,
                           use_case: GetAutomationStats = Depends(Provide["automation_stats"])) -> AutomationStatsOut:
    progress = await use_case.execute(actor, automation_id)
    automation, counts = progress.automation, progress.counts
    return AutomationStatsOut(
        automation_id=automation.id, status=automation.status.value, total=counts.total, pending=counts.pending,
        sent=counts.sent, delivered=counts.delivered, read=counts.read, replied=counts.replied,
        completed=counts.completed, failed=counts.failed, skipped=counts.skipped, started_at=automation.started_at,
        finished_at=automation.finished_at, messages_per_second=progress.accepted_per_second,
        paused_reason=automation.paused_reason, phase=cast(AutomationPhaseName, automation.phase),
        dispatched=counts.dispatched, accepted=counts.accepted, dispatched_per_second=progress.dispatched_per_second,
        dispatch_finished_at=automation.dispatch_finished_at)


@router.get("/{automation_id}/recipients", response_model=list[RecipientOut],
            summary="Recipients with their state (paginated, filter by state)",
            responses=error_responses(401, 403, 404, 422))
async def list_recipients(
    actor: CurrentActor, automation_id: UUID, page: PageParams,
    state: Annotated[RecipientStateName | None, Query(description="Only recipients in this state")] = None,
    use_case: ListRecipients = provided("list_recipients"),
) -> Response:
    items, total = await use_case.execute(actor, automation_id, state=RecipientState(state) if state else None,
                                          limit=page.limit, offset=page.offset)
    return json_page(_RECIPIENT_LIST, items, total)
