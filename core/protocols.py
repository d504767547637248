"""One small protocol per role. Implementations live in `<backend>_<role>.py` modules and take their
dependencies through the constructor; heavy loading happens lazily on first use, never at import.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.types import (
    Answer,
    Hit,
    RouteDecision,
    SearchFilter,
    Segment,
    Source,
    SparseVector,
    Vector,
)

if TYPE_CHECKING:
    from PIL.Image import Image


@runtime_checkable
class TextEncoder(Protocol):
    """Embeds text into one space. Queries and documents take separate paths (instruction prefixes)."""

    space: str

    @property
    def dim(self) -> int: ...

    def load(self) -> None:
        """Load the weights now; raise `ModelUnavailableError` with the exact reason when they can't be."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> Vector: ...

    def encode_documents(self, texts: Sequence[str]) -> Vector: ...


@runtime_checkable
class ImageEncoder(Protocol):
    """Embeds images into one space. CLIP-style encoders also implement `TextEncoder` for that space."""

    space: str

    @property
    def dim(self) -> int: ...

    def load(self) -> None:
        """Load the weights now; raise `ModelUnavailableError` with the exact reason when they can't be."""
        ...

    def encode_images(self, images: Sequence[Image]) -> Vector: ...


@dataclass
class Extracted:
    """What an extractor yields: a segment, the pixels to embed, and media to store for display.

    `images`: pictures to embed in the image space (one for an image or embedded picture, the keyframes of a
    clip or video); the pipeline embeds their normalised mean.
    `media`: named pictures to store under the source's media folder (thumbnail, page render, keyframe); a
    segment points at one of them by `segment.media_ref`. Several segments may share one name (every
    paragraph of page 3 points at "page-3.jpg"); yield each name's image once.
    `vectors`: vectors the extractor computed itself, by space name (e.g. GRAM modality vectors).
    """

    segment: Segment
    images: list[Image] = field(default_factory=list)
    media: dict[str, Image] = field(default_factory=dict)
    vectors: dict[str, Vector] = field(default_factory=dict)


class Extractor(Protocol):
    """Cuts a source file into segments."""

    def accepts(self, source: Source) -> bool: ...

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield segments; raise `ExtractionError` with a one-line reason when the file is bad."""
        ...


class LexicalEncoder(Protocol):
    """Turns text into sparse term weights for the `lexical` space."""

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]: ...

    def encode_queries(self, texts: Sequence[str]) -> list[SparseVector]: ...


@dataclass
class Record:
    """One point to store: a segment with its dense vectors by space and an optional sparse vector."""

    segment: Segment
    dense: dict[str, Vector] = field(default_factory=dict)
    sparse: SparseVector | None = None


class VectorStore(Protocol):
    """Stores segments with named dense vectors and a sparse `lexical` vector; searches one space at a time.

    `upsert` adds a dense space the collection lacks, sized by the record's vector (the GRAM vectors of
    clips arrive that way); `ensure` declares the searched spaces up front and checks their dimensions.
    """

    def ensure(self, spaces: Mapping[str, int]) -> None:
        """Create the collection with these dense spaces (name -> dim) and the lexical space, if missing."""
        ...

    def upsert(self, records: Sequence[Record]) -> None: ...

    def search(
        self, space: str, query: Vector | SparseVector, flt: SearchFilter | None = None, k: int = 10
    ) -> list[Hit]: ...

    def get(self, segment_ids: Sequence[str]) -> list[Segment]: ...

    def scroll(self, flt: SearchFilter | None = None, batch: int = 256) -> Iterator[Segment]:
        """Every stored segment matching `flt`, page by page (re-embedding reuses stored segments)."""
        ...

    def update_vectors(self, space: str, vectors: Mapping[str, Vector]) -> None:
        """Set one named vector on existing points (segment id -> vector), keeping their other vectors."""
        ...

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]:
        """The stored `space` vectors of these segments (segment id -> (d,) float32); ids without one, and
        every id when the collection lacks the space, are left out."""
        ...

    def drop_metadata_key(self, key: str, flt: SearchFilter | None = None) -> None:
        """Remove `key` from the metadata of every segment matching `flt` (data moved elsewhere)."""
        ...

    def delete_source(self, source_id: str) -> int:
        """Delete every point of a source; return how many were deleted."""
        ...

    def set_uri(self, source_id: str, uri: str) -> None:
        """Point every segment of a source at a new uri (its file was renamed or moved)."""
        ...

    def count(self, flt: SearchFilter | None = None) -> int: ...

    def optimize(self) -> bool:
        """Build search indexes for what was written (HNSW); True if anything changed."""
        ...

    def close(self) -> None:
        """Optimize if anything was written, flush and release."""
        ...


@runtime_checkable
class VectorReader(Protocol):
    """Reads stored named vectors back by segment id (the reranker's GRAM vectors of clips)."""

    def vectors(self, space: str, segment_ids: Sequence[str]) -> dict[str, Vector]: ...


@runtime_checkable
class RescoringStore(VectorStore, Protocol):
    """A store that runs a two-stage search in one query (Matryoshka: truncated first, full rescoring)."""

    def search_rescored(
        self,
        first_space: str,
        first_query: Vector,
        space: str,
        query: Vector,
        flt: SearchFilter | None = None,
        k: int = 10,
        candidates: int = 100,
    ) -> list[Hit]:
        """The `candidates` nearest in `first_space`, rescored by `query` in `space` (scores of `space`)."""
        ...


class MediaResolver(Protocol):
    """Finds the file of a stored picture (page render, photo, keyframe) by source and media name."""

    def path(self, source_id: str, name: str) -> Path:
        """The file; raise `NotFoundError` for an unsafe name or a missing file."""
        ...


class OcrLine(Protocol):
    """One recognised line of text with its box (x0, y0, x1, y1) in image pixels."""

    @property
    def text(self) -> str: ...

    @property
    def bbox(self) -> tuple[float, float, float, float]: ...

    @property
    def score(self) -> float: ...


class Ocr(Protocol):
    """Reads the text in a picture (scanned pages, photos, on-screen text of video frames)."""

    def read(self, image: Image) -> str:
        """The text, one line per text line, in reading order ("" when none)."""
        ...

    def read_lines(self, image: Image) -> Sequence[OcrLine]:
        """The text lines with their boxes, in reading order."""
        ...


class Speech(Protocol):
    """One recognised stretch of speech, in seconds from the start of the recording."""

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def text(self) -> str: ...


class Asr(Protocol):
    """Speech recognition over a file path, one 16 kHz mono float32 array, or an iterable of such chunks."""

    @property
    def name(self) -> str:
        """The model it runs ("packaged", a size such as "small", a folder), for reports."""
        ...

    def transcribe(self, audio: Any) -> Sequence[Speech]: ...

    def iter_transcribe(self, audio: Any) -> Iterator[Speech]:
        """Like `transcribe`, but yields segments as they are recognised (time order)."""
        ...


@runtime_checkable
class Describable(Protocol):
    """A model wrapper that says what it runs and where (`mmrag doctor`); `core.lazy_model.LazyModel` is one."""

    def describe(self) -> dict[str, str]:
        """{"model": what it loads, "device": where it actually runs once loaded ("" before)}."""
        ...


class Router(Protocol):
    """Picks the corpus and granularity (routes) for a query."""

    def route(self, query: str) -> RouteDecision: ...


@runtime_checkable
class BatchRouter(Router, Protocol):
    """A router that routes many queries in one call (one encoder batch); evaluation uses it."""

    def route_many(self, queries: Sequence[str]) -> list[RouteDecision]: ...


class Reranker(Protocol):
    """Rescores hits for a query; returns them best first with a `rerank` score."""

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]: ...


class Generator(Protocol):
    """Answers a question from numbered evidence, citing it as [n].

    `needs_evidence`: True when it can only answer from evidence (the extractive generator), so the pipeline
    searches even when the router says "no retrieval".
    """

    needs_evidence: bool

    def generate(self, query: str, evidence: Sequence[Hit]) -> Answer: ...

    def stream(self, query: str, evidence: Sequence[Hit]) -> Iterator[str]: ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator whose `stream` yields the model's raw text; `finish` turns that text into the answer.

    Generators without it (the extractive one) produce the whole answer in `generate`; the pipeline then
    streams that answer word by word.
    """

    def finish(self, raw: str, evidence: Sequence[Hit], seconds: float = 0.0) -> Answer:
        """Map citations and detect abstention in the streamed text."""
        ...


@runtime_checkable
class Completer(Protocol):
    """Completes a free prompt (the LLM router asks the configured generator to pick routes)."""

    def complete(self, text: str, max_tokens: int = 32) -> str: ...
