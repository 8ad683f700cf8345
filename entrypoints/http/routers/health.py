"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from entrypoints.http.errors import error_body

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the database answers and migrations are current",
            responses={503: {"description": "not ready"}})
@inject
async def ready(current: Any = Depends(Provide["current_revision.provider"]),
                head: Any = Depends(Provide["head_revision.provider"])) -> JSONResponse:
    try:
        revision = await current()
        expected = head()
    except Exception:  # noqa: BLE001 - any failure to reach the database or read migrations means "not ready"
        return JSONResponse(error_body(503, "The database is unreachable.", "database_unavailable"),
                            status_code=503)
    if revision != expected:
        return JSONResponse(error_body(503, f"Migrations are not current (at {revision}, head {expected}).",
                                         "migrations_pending"), status_code=503)
    return JSONResponse({"status": "ready", "database": "ok", "migration": revision})
