"""Search: hybrid text search, or a composed text + image query."""

from __future__ import annotations

import base64
import binascii
import io
import time
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request

from app.api.deps import ContainerDep, ReadDep
from app.api.routes.sources import file_url
from app.api.schemas import SearchRequest, SearchResponse, error_responses, hit_out
from core.errors import InvalidRequestError
from core.types import Hit, SearchFilter
from retrieval.query import Query

if TYPE_CHECKING:
    from PIL.Image import Image

router = APIRouter(prefix="/v1", tags=["search"])

MAX_QUERY_PIXELS = 40_000_000


def decode_image(data: str) -> Image:
    """A base64 (optionally a data: URL) PNG/JPEG/WebP as an RGB picture; 400 when it is not one."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        raw = base64.b64decode(data, validate=True)
        with PILImage.open(io.BytesIO(raw)) as img:
            if img.width * img.height > MAX_QUERY_PIXELS:
                raise InvalidRequestError(f"query image too large ({img.width}x{img.height})")
            return img.convert("RGB")
    except (
        binascii.Error,
        ValueError,
        OSError,
        UnidentifiedImageError,
        PILImage.DecompressionBombError,
    ) as exc:
        raise InvalidRequestError(f"image: not a readable base64 PNG/JPEG ({exc})") from exc


def with_file_urls(request: Request, hits: list[Hit]) -> list:
    """Hit JSON with `file_url` set for sources whose original was uploaded (looked up once per source)."""
    urls: dict[str, str | None] = {}
    out = []
    for hit in hits:
        sid = hit.segment.source_id
        if sid not in urls:
            urls[sid] = file_url(request, sid)
        out.append(hit_out(hit, urls[sid]))
    return out


@router.post(
    "/search",
    response_model=SearchResponse,
    dependencies=[ReadDep],
    summary="Search the collection (hybrid; with `image`, a composed query)",
    responses=error_responses(400, 401, 422, 501, 503),
)
def search(body: SearchRequest, request: Request, container: ContainerDep) -> SearchResponse:
    """Best hits first. Filters restrict modality, granularity and sources."""
    if not body.query.strip() and not body.image:
        raise InvalidRequestError("give a query, an image, or both")
    flt = SearchFilter(
        modalities=tuple(body.modality),
        granularities=tuple(body.granularity),
        source_ids=tuple(body.source_ids),
    )
    start = time.perf_counter()
    picture = decode_image(body.image) if body.image else None
    result = container.retriever.search(Query(text=body.query, image=picture, filters=flt, k=body.k))
    took = (time.perf_counter() - start) * 1000
    return SearchResponse(hits=with_file_urls(request, result), method=result.method, took_ms=round(took, 2))
