"""Ask: a cited answer from the collection, as one JSON document or streamed as Server-Sent Events."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from app.api.deps import ContainerDep, ReadDep
from app.api.routes.sources import file_url
from app.api.schemas import AskRequest, AskResponse, CitationOut, error_responses
from app.container import Container
from core.errors import MmragError, ModelUnavailableError
from core.types import Answer, Locator, Segment

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["search"])

SSE_DOC = """Server-Sent Events, JSON in each `data:` line: `route` (the route decision), `evidence` (the
numbered evidence with `media_url`), `token` (a string, many), then `done` (the answer, shaped like the JSON
response); `error` (`{"error": {"code", "message"}}`) if answering fails midway."""


def citation_out(request: Request | None, n: int, seg: Segment) -> CitationOut:
    """One citation; without a request (the CLI opening the store itself) there is no file to link."""
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
        file_url=file_url(request, seg.source_id) if request is not None else None,
    )


def answer_out(request: Request | None, answer: Answer) -> AskResponse:
    """The JSON shape of an answer, citations carrying the URLs of their evidence."""
    return AskResponse(
        text=answer.text,
        citations=[citation_out(request, c.n, c.segment) for c in answer.citations],
        route=answer.route.to_dict() if answer.route else None,
        timings={k: round(v, 4) for k, v in answer.timings.items()},
        abstained=answer.abstained,
        conflicts=list(answer.conflicts),
    )


def _rag(container: Container) -> Any:
    try:
        return container.rag
    except (MmragError, ImportError) as exc:
        raise ModelUnavailableError(f"question answering unavailable: {exc}") from exc


def _add_urls(request: Request, items: Any) -> Any:
    """Give each evidence dict of the stream its media and file URLs."""
    if not isinstance(items, list):
        return items
    out = []
    for item in items:
        if isinstance(item, dict) and "segment_id" in item and "source_id" in item:
            item = {
                **item,
                "media_url": f"/v1/media/{item['segment_id']}" if item.get("media_ref") else None,
                "file_url": file_url(request, item["source_id"]),
            }
        out.append(item)
    return out


def _at_cited_moment(seg: Segment, citation: dict[str, Any]) -> Segment:
    """The stored segment with the locator the citation gives (the sentence or keyframe within its window)."""
    locator = citation.get("locator")
    return replace(seg, locator=Locator.from_dict(locator)) if locator else seg


def _final(request: Request, container: Container, data: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's `done` answer in the same shape as the JSON `/v1/ask` response."""
    cited = {c["segment_id"]: c for c in data.get("citations", []) if "segment_id" in c}
    segments = container.store.get(list(cited)) if cited else []
    citations = sorted(
        (
            # the stored segment's locator is its whole window: keep the cited moment (sentence, keyframe)
            citation_out(request, cited[s.segment_id]["n"], _at_cited_moment(s, cited[s.segment_id]))
            for s in segments
        ),
        key=lambda c: c.n,
    )
    return AskResponse(
        text=data.get("answer", data.get("text", "")),
        citations=citations,
        route=data.get("route") or None,
        timings=data.get("timings") or {},
        abstained=bool(data.get("abstained", False)),
        conflicts=data.get("conflicts") or [],
    ).model_dump()


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _events(request: Request, container: Container, rag: Any, question: str) -> Iterator[str]:
    """SSE frames: `route`, `evidence`, `token`..., then `done` (the answer); an error becomes `error`."""
    try:
        for item in rag.stream(question):
            event, data = str(item.get("event", "message")), item.get("data")
            if event == "evidence":
                data = _add_urls(request, data)
            elif event == "done" and isinstance(data, dict):
                data = _final(request, container, data)
            yield _sse(event, data)
    except MmragError as exc:
        yield _sse("error", {"error": {"code": type(exc).__name__, "message": str(exc)}})
    except Exception as exc:  # the status line is already sent: report in-band, log the details
        log.exception("ask stream failed")
        yield _sse("error", {"error": {"code": "internal_error", "message": str(exc)}})


@router.post(
    "/ask",
    response_model=AskResponse,
    dependencies=[ReadDep],
    summary="Answer a question with numbered citations (JSON, or SSE with `stream: true`)",
    responses={
        # each event's `data` is JSON of a shape that depends on the event: any JSON value
        200: {"content": {"text/event-stream": {"schema": {"description": SSE_DOC}}}},
        **error_responses(400, 401, 422, 503),
    },
)
def ask(body: AskRequest, request: Request, container: ContainerDep) -> Any:
    """`stream: true` or `Accept: text/event-stream` streams Server-Sent Events; otherwise one JSON answer."""
    rag = _rag(container)
    wants_stream = body.stream or "text/event-stream" in request.headers.get("accept", "")
    if wants_stream:
        return StreamingResponse(
            _events(request, container, rag, body.question),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    return answer_out(request, rag.ask(body.question))
