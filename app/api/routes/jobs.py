"""Ingestion jobs."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.deps import ReadDep
from app.api.schemas import JobOut, error_responses

router = APIRouter(prefix="/v1/jobs", tags=["sources"])


@router.get(
    "/{job_id}",
    response_model=JobOut,
    dependencies=[ReadDep],
    summary="An ingestion job: state, progress, per-file results and errors",
    responses=error_responses(401, 404),
)
def get_job(job_id: str, request: Request) -> JobOut:
    return JobOut(**request.app.state.jobs.get(job_id).to_dict())
