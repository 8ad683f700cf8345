"""Operations: Prometheus metrics and the dead-letter listing for operators."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import datetime
from typing import Annotated

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from application.use_cases.operations.list_dead_letters import ListDeadLetters
from application.use_cases.operations.read_operational_stats import ReadOperationalStats
from domain.errors import Unauthenticated
from entrypoints.config import Settings
from entrypoints.http.deps import CurrentActor, PageParams, client_ip, set_total
from entrypoints.http.errors import error_responses
from entrypoints.http.routing import DeprecationAwareRoute
from entrypoints.http.schemas.common import ResponseModel

metrics_router = APIRouter(tags=["operations"], route_class=DeprecationAwareRoute)
admin_router = APIRouter(prefix="/admin", tags=["operations"], route_class=DeprecationAwareRoute)

QUEUE_DEPTH = Gauge("pytake_queue_jobs", "Jobs in the queue by entrypoint and status", ["entrypoint", "status"])
QUEUE_AGE = Gauge("pytake_queue_oldest_job_age_seconds", "Age of the oldest job by entrypoint and status",
                  ["entrypoint", "status"])
WEBHOOKS_PENDING = Gauge("pytake_webhooks_pending", "Stored webhooks not processed yet")
WEBHOOK_LAG = Gauge("pytake_webhook_lag_seconds", "Age of the oldest unprocessed webhook")
DEAD_LETTERS = Gauge("pytake_dead_letters", "Dead-lettered jobs and webhooks")


class DeadLetterOut(ResponseModel):
    kind: str
    id: str
    entrypoint: str
    attempts: int
    failed_at: datetime | None = None
    error: str | None = None


metrics_bearer = HTTPBearer(auto_error=False, scheme_name="MetricsToken",
                            description="METRICS_TOKEN (without it, only loopback clients outside production)")


class MetricsAccessDenied(Unauthenticated):
    code = "metrics_unauthorized"
    default_message = ("Scraping /metrics needs 'Authorization: Bearer <METRICS_TOKEN>' (without METRICS_TOKEN, only "
                       "clients on the loopback interface outside production may scrape).")


def may_scrape(settings: Settings, *, client_host: str | None, bearer: str | None) -> bool:
    if settings.metrics_token is not None:
        expected = settings.metrics_token.get_secret_value().encode()
        return bearer is not None and hmac.compare_digest(bearer.encode(), expected)
    if settings.env == "production" or client_host is None:
        return False
    try:
        return ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False


def require_scraper(request: Request,
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(metrics_bearer)]) -> None:
    bearer = credentials.credentials if credentials is not None and credentials.scheme.lower() == "bearer" else None
    if not may_scrape(request.app.state.settings, client_host=client_ip(request), bearer=bearer):
        raise MetricsAccessDenied()


@metrics_router.get("/metrics", summary="Prometheus metrics (HTTP latency by route, queue depth and age, "
                                        "webhook lag, dead letters); the database gauges are cached a few seconds",
                    response_class=Response, dependencies=[Depends(require_scraper)], responses=error_responses(401))
@inject
async def metrics(use_case: ReadOperationalStats = Depends(Provide["read_operational_stats"])) -> Response:
    stats = await use_case.execute()
    QUEUE_DEPTH.clear()
    QUEUE_AGE.clear()
    for row in stats.queue:
        QUEUE_DEPTH.labels(row.entrypoint, row.status).set(row.count)
        QUEUE_AGE.labels(row.entrypoint, row.status).set(row.oldest_age_seconds)
    WEBHOOKS_PENDING.set(stats.webhooks_pending)
    WEBHOOK_LAG.set(stats.oldest_pending_webhook_age_seconds)
    DEAD_LETTERS.set(stats.dead_letters)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@admin_router.get("/dead-letters", response_model=list[DeadLetterOut],
                  summary="Jobs and webhooks that failed for good (super_admin)", responses=error_responses(401, 403))
@inject
async def dead_letters(actor: CurrentActor, page: PageParams, response: Response,
                       use_case: ListDeadLetters = Depends(Provide["list_dead_letters"])) -> list[DeadLetterOut]:
    items, total = await use_case.execute(actor, limit=page.limit, offset=page.offset)
    set_total(response, total)
    return [DeadLetterOut.model_validate(i) for i in items]
