"""Sources: upload (as a background job), list, delete, and the original file of an uploaded source."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse

from app.api.deps import ApiKeyDep, ContainerDep, ReadDep, RunnerDep, SettingsDep, UploadsDep
from app.api.errors import ApiError
from app.api.schemas import Deleted, JobAccepted, SourceList, SourceOut, error_responses
from app.api.uploads import UploadStore
from core.errors import NotFoundError

router = APIRouter(prefix="/v1/sources", tags=["sources"])


def uploaded_file(request: Request, uploads: UploadStore, source_id: str) -> Path | None:
    """The uploaded original of a source, if it came through the API and is still on disk."""
    for stored in request.app.state.jobs.stored_for_source(source_id):
        path = uploads.path(stored)
        if path.is_file():
            return path
    return None


def file_url(request: Request, source_id: str) -> str | None:
    """`/v1/sources/{id}/file` when the source's original can be served, else None."""
    if uploaded_file(request, request.app.state.uploads, source_id) is None:
        return None
    return f"/v1/sources/{source_id}/file"


@router.post(
    "",
    status_code=202,
    response_model=JobAccepted,
    dependencies=[ApiKeyDep],
    summary="Upload files to index (one or many); returns a job to follow",
    responses=error_responses(400, 401, 413, 422, 503),
)
def upload(
    files: Annotated[
        list[UploadFile], File(description="One or more files: PDF, images, video, audio, text.")
    ],
    runner: RunnerDep,
    uploads: UploadsDep,
    settings: SettingsDep,
) -> JobAccepted:
    """Store the uploads under safe names and queue them for indexing. Same bytes twice = indexed once."""
    if len(files) > settings.max_upload_files:
        raise ApiError(
            413,
            "too_many_files",
            f"{len(files)} files; at most {settings.max_upload_files} per upload (MMRAG_MAX_UPLOAD_FILES)",
        )
    stored = [uploads.save(f.file, f.filename) for f in files]
    job_id = runner.submit(stored)
    job = runner.store.get(job_id).to_dict()
    return JobAccepted(job_id=job_id, state=job["state"], url=f"/v1/jobs/{job_id}", files=job["files"])


@router.get(
    "",
    response_model=SourceList,
    dependencies=[ReadDep],
    summary="List sources",
    responses=error_responses(401, 503),
)
def list_sources(request: Request, container: ContainerDep) -> SourceList:
    """Every source in the manifest (indexed, indexing or failed), by uri."""
    return SourceList(
        sources=[
            SourceOut(**r.to_dict(), file_url=file_url(request, r.source_id))
            for r in container.manifest.sources()
        ],
        watched=watched_roots(request),
    )


def watched_roots(request: Request) -> list[str]:
    """The folders this server keeps indexed (MMRAG_WATCH; see app/watch.py)."""
    watcher = getattr(request.app.state, "watcher", None)
    return [str(r) for r in watcher.roots] if watcher is not None else []


@router.delete(
    "/{source_id}",
    response_model=Deleted,
    dependencies=[ApiKeyDep],
    summary="Delete a source: its points, media, manifest entry and uploaded file",
    responses=error_responses(401, 404, 503),
)
def delete_source(source_id: str, request: Request, container: ContainerDep, uploads: UploadsDep) -> Deleted:
    if container.manifest.get(source_id) is None:
        raise NotFoundError(f"no source {source_id}")
    deleted = container.delete_source(source_id)
    for stored in request.app.state.jobs.stored_for_source(source_id):
        uploads.delete(stored)
    return Deleted(source_id=source_id, deleted_points=deleted)


@router.get(
    "/{source_id}/file",
    dependencies=[ReadDep],
    response_class=FileResponse,
    summary="The original file of a source uploaded through the API (e.g. to play a video)",
    responses={200: {"content": {"application/octet-stream": {}}}, **error_responses(401, 404, 503)},
)
def source_file(
    source_id: str, request: Request, container: ContainerDep, uploads: UploadsDep
) -> FileResponse:
    """Serves only files that were uploaded through the API, looked up by source id; never a path."""
    record = container.manifest.get(source_id)
    path = uploaded_file(request, uploads, source_id) if record is not None else None
    if record is None or path is None:
        raise NotFoundError(f"no uploaded file for source {source_id}")
    mime = record.mime or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=mime, filename=Path(record.uri).name)
