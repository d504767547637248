"""Domain types shared by every package: frozen dataclasses, no heavy imports.

A `Source` is one user file; a `Segment` is one retrievable unit cut from it; a `Hit` is a segment found
by a search; an `Answer` is generated text with citations back to segments.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]
"""One embedding (d,) or a batch (n, d): float32, L2-normalised."""


class Granularity(StrEnum):
    """How much of a source a segment covers (UniversalRAG's corpora, plus video frames)."""

    PARAGRAPH = "paragraph"
    DOCUMENT = "document"
    IMAGE = "image"
    FRAME = "frame"
    CLIP = "clip"
    VIDEO = "video"


class Modality(StrEnum):
    """What kind of file a segment came from."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


class Route(StrEnum):
    """Router labels: which corpus and granularity answers a query; NONE answers without retrieval."""

    NONE = "no"
    PARAGRAPH = "paragraph"
    DOCUMENT = "document"
    IMAGE = "image"
    CLIP = "clip"
    VIDEO = "video"


@dataclass(frozen=True)
class Locator:
    """Where a segment sits inside its source. Unused fields stay None."""

    page: int | None = None  # 1-based page number (PDF)
    page_end: int | None = None  # last page of a page group
    bbox: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 in page/image pixels
    start_s: float | None = None  # seconds into a recording
    end_s: float | None = None
    frame: int | None = None  # frame index in a video
    index: int | None = None  # ordinal of the segment within its source (paragraph n, image n)

    def to_dict(self) -> dict[str, Any]:
        """Return only the fields that are set, JSON-ready (every field is a scalar or a flat tuple, so no
        deep copy: this runs once per indexed segment)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Locator:
        """Inverse of `to_dict`; unknown keys are ignored."""
        data = data or {}
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("bbox") is not None:
            known["bbox"] = tuple(known["bbox"])
        return cls(**known)

    def key(self) -> str:
        """A stable string for deterministic segment ids."""
        return ",".join(f"{k}={v}" for k, v in sorted(self.to_dict().items()))


@dataclass(frozen=True)
class Source:
    """One user file. `source_id` is the sha256 of its bytes: identity and idempotency."""

    source_id: str
    uri: str
    mime: str
    size: int


@dataclass(frozen=True)
class Segment:
    """One retrievable unit cut from a source."""

    segment_id: str
    source_id: str
    uri: str
    modality: Modality
    granularity: Granularity
    text: str = ""
    locator: Locator = field(default_factory=Locator)
    media_ref: str | None = None  # name of a stored thumbnail/page/frame, served by segment id
    metadata: dict[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON payload stored beside the vectors; the optional fields only when set (`from_payload`
        restores their defaults). The engine converts a payload key by key, so at a million points every
        empty field left out saves seconds of a bulk load (benchmarks/bench_hnsw_build.py)."""
        payload = {
            "segment_id": self.segment_id,
            "source_id": self.source_id,
            "uri": self.uri,
            "modality": self.modality.value,
            "granularity": self.granularity.value,
        }
        optional = {
            "text": self.text,
            "locator": self.locator.to_dict(),
            "media_ref": self.media_ref,
            "metadata": self.metadata,
        }
        return payload | {k: v for k, v in optional.items() if v}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Segment:
        """Rebuild a segment from a stored payload."""
        return cls(
            segment_id=payload["segment_id"],
            source_id=payload["source_id"],
            uri=payload["uri"],
            modality=Modality(payload["modality"]),
            granularity=Granularity(payload["granularity"]),
            text=payload.get("text", ""),
            locator=Locator.from_dict(payload.get("locator")),
            media_ref=payload.get("media_ref"),
            metadata=payload.get("metadata") or {},
        )


def segment_id(source_id: str, granularity: Granularity | str, locator: Locator) -> str:
    """Deterministic segment id (a UUID string, as Qdrant point ids must be) from source and locator."""
    digest = hashlib.sha256(f"{source_id}|{granularity}|{locator.key()}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


@dataclass(frozen=True)
class SparseVector:
    """A sparse vector: parallel lists of term indices and weights."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search. Each field, when set, keeps only segments whose payload value is in it."""

    modalities: tuple[Modality, ...] = ()
    granularities: tuple[Granularity, ...] = ()
    source_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return not (self.modalities or self.granularities or self.source_ids)


LEXICAL_BONUS = "lexical_bonus"
"""`Hit.scores` key: the hit's BM25 evidence in cosine units (what the relevance calibration trades it for,
retrieval/relevance.py), for rerankers that score on the cosine scale."""


@dataclass(frozen=True)
class Hit:
    """A segment found by a search, with its score at each stage that saw it."""

    segment: Segment
    score: float
    space: str = ""  # the space (or "fused") that produced `score`
    # per stage: text, image, lexical, fused, rerank; and `LEXICAL_BONUS`
    scores: dict[str, float] = field(default_factory=dict)
    # Calibrated relevance in [0, 1], comparable across queries (retrieval/relevance.py); None = not rated.
    relevance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a search hit, shared by the CLI (`search --json`) and the API."""
        seg = self.segment
        return {
            "segment_id": seg.segment_id,
            "source_id": seg.source_id,
            "uri": seg.uri,
            "modality": seg.modality.value,
            "granularity": seg.granularity.value,
            "score": round(float(self.score), 6),
            **({"relevance": round(float(self.relevance), 4)} if self.relevance is not None else {}),
            "text": seg.text,
            "locator": seg.locator.to_dict(),
        }


@dataclass(frozen=True)
class Citation:
    """One numbered piece of evidence an answer cites."""

    n: int
    segment: Segment


@dataclass(frozen=True)
class RouteDecision:
    """Routes ranked by probability. `selected` are the routes to search (several when unsure)."""

    probabilities: dict[Route, float]
    selected: tuple[Route, ...]
    router: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": [r.value for r in self.selected],
            "probabilities": {r.value: round(p, 4) for r, p in self.probabilities.items()},
            "router": self.router,
        }


@dataclass(frozen=True)
class Answer:
    """Generated text with the citations it uses, the route taken and stage timings (seconds)."""

    text: str
    citations: tuple[Citation, ...] = ()
    route: RouteDecision | None = None
    timings: dict[str, float] = field(default_factory=dict)
    abstained: bool = False
    # Incompatible answers among the evidence (`generation.conflicts.Conflict.to_dict()`), JSON-ready.
    conflicts: tuple[dict[str, Any], ...] = ()
