"""Media behind hits and citations: looked up by segment id, never by a path from the request."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import FileResponse

from app.api.deps import ContainerDep, ReadDep
from app.api.schemas import error_responses
from core.errors import NotFoundError

router = APIRouter(prefix="/v1/media", tags=["media"])


@router.get(
    "/{segment_id}",
    dependencies=[ReadDep],
    response_class=FileResponse,
    summary="The thumbnail, page render or keyframe of a segment (JPEG)",
    responses={200: {"content": {"image/jpeg": {}}}, **error_responses(401, 404, 503)},
)
def get_media(segment_id: str, container: ContainerDep) -> FileResponse:
    """Resolves segment -> its stored `media_ref` -> the media store's file for that source."""
    try:
        uuid.UUID(segment_id)  # segment ids are UUIDs; anything else cannot exist
    except ValueError:
        raise NotFoundError(f"no segment {segment_id!r}") from None
    segments = container.store.get([segment_id])
    media_ref = segments[0].media_ref if segments else None
    if not media_ref:
        raise NotFoundError(f"no media for segment {segment_id}")
    path = container.media.path(segments[0].source_id, media_ref)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})
