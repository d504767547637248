"""Ask: a cited answer from the collection, as one JSON document or streamed as Server-Sent Events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.api.deps import ContainerDep, ReadDep
from app.api.routes.sources import file_url
from app.api.schemas import AskRequest, AskResponse, CitationOut, error_responses
from app.container import Container
from core.errors import MmragError, ModelUnavailableError
from core.types import Answer, Segment

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["search"])

SSE_DOC = """Server-Sent Events, one JSON object per `data:` line; the `event:` name is the event's `type`
(e.g. `route`, `evidence`, `token`, `answer`, `error`), the last event is `done`."""


def citation_out(request: Request, n: int, seg: Segment) -> CitationOut:
    return CitationOut(
        n=n,
        segment_id=seg.segment_id,
        source_id=seg.source_id,
        uri=seg.uri,
        modality=seg.modality.value,
        granularity=seg.granularity.value,
        text=seg.text,
        locator=seg.locator.to_dict(),
        media_url=f"/v1/media/{seg.segment_id}" if seg.media_ref else None,
        file_url=file_url(request, seg.source_id),
    )


def answer_out(request: Request, answer: Answer) -> AskResponse:
    """The JSON shape of an answer, citations carrying the URLs of their evidence."""
    return AskResponse(
        text=answer.text,
        citations=[citation_out(request, c.n, c.segment) for c in answer.citations],
        route=answer.route.to_dict() if answer.route else None,
        timings={k: round(v, 4) for k, v in answer.timings.items()},
        abstained=answer.abstained,
    )


def _rag(container: Container) -> Any:
    try:
        return container.rag
    except (MmragError, ImportError) as exc:
        raise ModelUnavailableError(f"question answering unavailable: {exc}") from exc


def _add_urls(request: Request, data: Any) -> Any:
    """Give every citation-like dict inside a stream event its media and file URLs."""
    if isinstance(data, list):
        return [_add_urls(request, item) for item in data]
    if not isinstance(data, dict):
        return data
    out = {k: _add_urls(request, v) for k, v in data.items()}
    seg_id, source_id = out.get("segment_id"), out.get("source_id")
    if isinstance(seg_id, str) and isinstance(source_id, str):
        if "media_ref" in out:
            out.setdefault("media_url", f"/v1/media/{seg_id}" if out.get("media_ref") else None)
        out.setdefault("file_url", file_url(request, source_id))
    return out


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _events(request: Request, rag: Any, question: str) -> Iterator[str]:
    """SSE frames from the pipeline's events; an error mid-stream becomes an `error` event."""
    try:
        for event in rag.stream(question):
            kind = str(event.get("type", "message")) if isinstance(event, dict) else "message"
            yield _sse(kind, _add_urls(request, event))
    except MmragError as exc:
        yield _sse("error", {"type": "error", "error": {"code": type(exc).__name__, "message": str(exc)}})
    except Exception as exc:  # the status line is already sent: report in-band, log the details
        log.exception("ask stream failed")
        yield _sse("error", {"type": "error", "error": {"code": "internal_error", "message": str(exc)}})
    yield _sse("done", {"type": "done"})


@router.post(
    "/ask",
    response_model=AskResponse,
    dependencies=[ReadDep],
    summary="Answer a question with numbered citations (JSON, or SSE with `stream: true`)",
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}, "example": SSE_DOC}}},
        **error_responses(401, 422, 503),
    },
)
def ask(body: AskRequest, request: Request, container: ContainerDep) -> Any:
    """`stream: true` or `Accept: text/event-stream` streams Server-Sent Events; otherwise one JSON answer."""
    rag = _rag(container)
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        return StreamingResponse(
            _events(request, rag, body.question),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return answer_out(request, rag.ask(body.question))
