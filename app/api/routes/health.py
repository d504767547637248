"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process serves requests")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: models and store are loaded",
    responses={503: {"model": Health, "description": "Still loading, or loading failed (see `error`)."}},
)
def readyz(request: Request) -> Health | JSONResponse:
    state = request.app.state
    auth: Literal["enabled", "disabled"] = "enabled" if state.settings.api_keys else "disabled"
    if not state.ready:
        status: Literal["unavailable", "loading"] = "unavailable" if state.load_error else "loading"
        body = Health(status=status, error=state.load_error, auth=auth)
        return JSONResponse(body.model_dump(), status_code=503)
    container = state.container
    return Health(
        status="ready", points=container.store.count(), unavailable=dict(container.unavailable), auth=auth
    )
