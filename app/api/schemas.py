"""Pydantic request and response models of the REST API (the edge: domain objects stay dataclasses).

Every model carries an example so the OpenAPI docs show a realistic request and answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, computed_field

from core.types import Granularity, Hit, Modality

SEGMENT_ID = "6f1c2b0e-7d7a-4c1e-9a51-2f7d3c0b9e11"
SOURCE_ID = "9b74c9897bac770ffc029102a200c5de" * 2


class ErrorBody(BaseModel):
    """The body of every error: a stable machine code and one readable line."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no source 9b74c989..."])


class ErrorResponse(BaseModel):
    """`{"error": {"code", "message"}}`, returned with every 4xx and 5xx status."""

    error: ErrorBody


class HitOut(BaseModel):
    """One search hit: the same fields as `mmrag search --json`, plus where to fetch its picture."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "segment_id": SEGMENT_ID,
                    "source_id": SOURCE_ID,
                    "uri": "report.pdf",
                    "modality": "text",
                    "granularity": "paragraph",
                    "score": 0.0312,
                    "text": "Table 2 lists the results per language ...",
                    "locator": {"page": 3, "index": 7},
                    "media_url": f"/v1/media/{SEGMENT_ID}",
                    "file_url": f"/v1/sources/{SOURCE_ID}/file",
                }
            ]
        }
    )

    segment_id: str
    source_id: str
    uri: str
    modality: Modality
    granularity: Granularity
    score: float
    relevance: float | None = Field(
        None,
        description="Calibrated relevance in [0, 1], comparable across queries (absent for hits found only "
        "through the image space); below the `relevance_threshold` setting = no good match.",
    )
    text: str
    locator: dict[str, Any]
    media_url: str | None = Field(None, description="Thumbnail, page render or keyframe of the segment.")
    file_url: str | None = Field(None, description="The original file, when it was uploaded through the API.")


def hit_out(hit: Hit, file_url: str | None = None) -> HitOut:
    """Convert a domain `Hit` to its JSON shape."""
    media_url = f"/v1/media/{hit.segment.segment_id}" if hit.segment.media_ref else None
    return HitOut(**hit.to_dict(), media_url=media_url, file_url=file_url)


class SearchRequest(BaseModel):
    """A search: text, optionally with an example image (composed query), restricted by filters."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"query": "a dog catching a frisbee", "k": 5, "modality": ["image"]}],
            # a query with a non-blank character, or an image (or both)
            "anyOf": [
                {"required": ["query"], "properties": {"query": {"pattern": "\\S"}}},
                {"required": ["image"]},
            ],
        },
    )

    query: str = Field("", max_length=2000, description="What to look for. May be empty when `image` is set.")
    k: StrictInt = Field(10, ge=1, le=100, description="How many hits to return.")
    modality: list[Modality] = Field(default_factory=list, description="Keep only these modalities.")
    granularity: list[Granularity] = Field(default_factory=list, description="Keep only these granularities.")
    source_ids: list[str] = Field(
        default_factory=list, max_length=100, description="Keep only these sources."
    )
    image: str | None = Field(
        None,
        max_length=20_000_000,
        description="Base64 image (PNG/JPEG) for a composed query: find things like this picture, "
        "modified by `query`.",
    )


class SearchResponse(BaseModel):
    """Hits best first, and how the query was run."""

    hits: list[HitOut]
    method: str = Field("hybrid", description="hybrid, or the composed-query method used with an image.")
    took_ms: float


class AskRequest(BaseModel):
    """A question to answer from the indexed collection, with citations."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"question": "What does the report say about revenue?", "stream": False}]
        },
    )

    question: str = Field(min_length=1, max_length=4000)
    stream: StrictBool = Field(False, description="Stream Server-Sent Events instead of one JSON answer.")


class CitationOut(BaseModel):
    """One numbered piece of evidence, `[n]` in the answer text."""

    n: int
    segment_id: str
    source_id: str
    uri: str
    modality: str
    granularity: str
    text: str
    locator: dict[str, Any]
    media_url: str | None = None
    file_url: str | None = None


class AskResponse(BaseModel):
    """A generated answer with its citations, the route taken and stage timings."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "text": "Revenue grew 12% in 2023 [1].",
                    "citations": [
                        {
                            "n": 1,
                            "segment_id": SEGMENT_ID,
                            "source_id": SOURCE_ID,
                            "uri": "report.pdf",
                            "modality": "text",
                            "granularity": "paragraph",
                            "text": "Revenue grew by 12% ...",
                            "locator": {"page": 2},
                            "media_url": f"/v1/media/{SEGMENT_ID}",
                        }
                    ],
                    "route": {
                        "selected": ["paragraph"],
                        "probabilities": {"paragraph": 0.91},
                        "router": "trained",
                    },
                    "timings": {"retrieve": 0.041, "generate": 0.2},
                    "abstained": False,
                }
            ]
        },
    )

    text: str
    citations: list[CitationOut] = Field(default_factory=list)
    route: dict[str, Any] | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    abstained: bool = False
    conflicts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Evidence that answers with incompatible values: kind, claims [{n, uri, value, quote}], "
        "newer (evidence number of the newest source) and the message shown in the answer.",
    )

    @computed_field(
        description="The same as `text`: the name `mmrag ask --json` used before the CLI and "
        "the API shared one shape; kept so existing scripts keep working."
    )
    def answer(self) -> str:
        return self.text


JobState = Literal["queued", "running", "done", "failed"]
FileState = Literal["pending", "running", "indexed", "unchanged", "failed"]


class JobFileOut(BaseModel):
    """One uploaded file of a job and what indexing it gave."""

    name: str = Field(description="The sanitised upload name, recorded as the source's uri.")
    size: int
    state: FileState
    source_id: str
    segments: int = 0
    error: str | None = None


class JobOut(BaseModel):
    """An ingestion job: one upload request, indexed in the background."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "3f2a8c1e0b4d4e0f9a6b7c8d9e0f1a2b",
                    "state": "running",
                    "created_at": 1763900000.0,
                    "updated_at": 1763900004.2,
                    "total": 2,
                    "done": 1,
                    "progress": 0.5,
                    "error": None,
                    "files": [
                        {
                            "name": "cat.jpg",
                            "size": 48213,
                            "state": "indexed",
                            "source_id": SOURCE_ID,
                            "segments": 1,
                        },
                        {
                            "name": "talk.mp4",
                            "size": 9123456,
                            "state": "running",
                            "source_id": SOURCE_ID[::-1],
                        },
                    ],
                }
            ]
        }
    )

    job_id: str
    state: JobState
    created_at: float
    updated_at: float
    total: int
    done: int
    progress: float = Field(ge=0, le=1)
    error: str | None = None
    files: list[JobFileOut]


class JobAccepted(BaseModel):
    """The answer to an upload: where to follow the job."""

    job_id: str
    state: JobState
    url: str = Field(examples=["/v1/jobs/3f2a8c1e0b4d4e0f9a6b7c8d9e0f1a2b"])
    files: list[JobFileOut]


class SourceOut(BaseModel):
    """One indexed source file."""

    source_id: str
    uri: str
    mime: str
    size: int
    status: str
    error: str | None = None
    indexed_at: float | str | None = None
    segments: int = 0
    file_url: str | None = None
    searchable: bool = Field(
        default=True,
        description="False for an indexed source that no search can find (e.g. a picture without text, "
        "indexed while no image space was available); `reason` says why.",
    )
    reason: str | None = Field(default=None, description="Why an indexed source is not searchable.")


class SourceList(BaseModel):
    """Every source in the collection."""

    sources: list[SourceOut]
    watched: list[str] = Field(
        default_factory=list,
        description="Folders the server keeps indexed (the `watch` setting, MMRAG_WATCH).",
    )


class Deleted(BaseModel):
    """What a delete removed."""

    source_id: str
    deleted_points: int


class Health(BaseModel):
    """Liveness or readiness, and why not ready."""

    status: Literal["ok", "ready", "loading", "unavailable"]
    points: int | None = None
    unavailable: dict[str, str] = Field(
        default_factory=dict, description="Optional models that did not load."
    )
    auth: Literal["enabled", "disabled"] | None = None
    error: str | None = None


_ERROR_TEXT = {
    400: "The request is malformed (bad JSON or multipart body, empty query, unreadable image).",
    401: "An API key is required or the key is wrong.",
    404: "No such item.",
    413: "The upload is larger than MMRAG_MAX_UPLOAD_MB or has more files than MMRAG_MAX_UPLOAD_FILES.",
    422: "The request does not match the schema, or a file could not be read.",
    501: "This deployment cannot do that (a component is not installed).",
    503: "Models are loading, a model is unavailable, or the vector store cannot be reached.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all with the `ErrorResponse` body."""
    return {code: {"model": ErrorResponse, "description": _ERROR_TEXT[code]} for code in codes}
