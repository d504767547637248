"""The `mm` space at index time: which input each segment gets, and re-embedding a collection into it.

One rule decides a segment's document-side input, used both by the indexing pipeline and by `reembed_mm`
so that a re-embedded collection matches a freshly indexed one:

- a segment with pixels (granularity image, frame, clip or video, or any non-text modality with a picture)
  is embedded from its picture (the middle one of several keyframes) jointly with its text (caption, OCR,
  transcript) when it has any, else from the picture alone;
- every other segment (paragraphs, documents) is embedded from its text;
- a segment with neither gets no `mm` vector (it simply lacks that named vector).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from core.errors import ModelUnavailableError, NotFoundError
from core.types import Granularity, Modality, SearchFilter, Segment, Vector

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.protocols import Extracted, MediaResolver, Record, VectorStore
    from indexing.encoders.mllm_embedder import MllmEmbedder

log = logging.getLogger(__name__)

MM_SPACE = "mm"
MAX_TEXT_CHARS = 2000
"""Longer texts are cut: the mm space is for matching, and MLLM cost grows with every token."""

_PICTURE_GRANULARITIES = {Granularity.IMAGE, Granularity.FRAME, Granularity.CLIP, Granularity.VIDEO}


def wants_picture(segment: Segment) -> bool:
    """Whether the segment is embedded from a picture (rather than from text only)."""
    return segment.granularity in _PICTURE_GRANULARITIES or segment.modality != Modality.TEXT


def mm_document_vectors(
    encoder: MllmEmbedder, segments: Sequence[Segment], pictures: Sequence[Sequence[Image]]
) -> list[Vector | None]:
    """Document-side `mm` vectors for segments, by the rule in the module docstring.

    Args:
        encoder: The loaded MLLM embedder.
        segments: Segments to embed.
        pictures: Per segment, its pictures (the pipeline's `Extracted.images`; a stored thumbnail when
            re-embedding); may be empty.

    Returns:
        One vector per segment, or None for a segment with neither picture nor text.
    """
    out: list[Vector | None] = [None] * len(segments)
    pairs: list[tuple[int, Image, str]] = []
    only_images: list[tuple[int, Image]] = []
    texts: list[tuple[int, str]] = []
    for i, (segment, images) in enumerate(zip(segments, pictures, strict=True)):
        text = segment.text.strip()[:MAX_TEXT_CHARS]
        if images and wants_picture(segment):
            picture = images[len(images) // 2]
            if text:
                pairs.append((i, picture, text))
            else:
                only_images.append((i, picture))
        elif text:
            texts.append((i, text))
    if pairs:
        vectors = encoder.encode_pairs([p for _, p, _ in pairs], [t for _, _, t in pairs])
        for (i, _, _), v in zip(pairs, vectors, strict=True):
            out[i] = v
    if only_images:
        vectors = encoder.encode_images([p for _, p in only_images])
        for (i, _), v in zip(only_images, vectors, strict=True):
            out[i] = v
    if texts:
        vectors = encoder.encode_documents([t for _, t in texts])
        for (i, _), v in zip(texts, vectors, strict=True):
            out[i] = v
    return out


def mm_record_hook(encoder: MllmEmbedder) -> Callable[[Sequence[Extracted], list[Record]], None]:
    """An `Indexer(hooks=[...])` record hook that fills the `mm` space at index time.

    It embeds each extracted segment by `mm_document_vectors` (pictures from `Extracted.images`) and sets
    `records[i].dense["mm"]` for the segments that get a vector.
    """

    def hook(items: Sequence[Extracted], records: list[Record]) -> None:
        vectors = mm_document_vectors(encoder, [it.segment for it in items], [it.images for it in items])
        for record, vector in zip(records, vectors, strict=True):
            if vector is not None:
                record.dense[MM_SPACE] = vector

    return hook


def reembed_mm(
    encoder: MllmEmbedder | None,
    store: VectorStore,
    media: MediaResolver,
    flt: SearchFilter | None = None,
    batch: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every stored segment into the `mm` space from stored text and media; no re-extraction.

    Args:
        encoder: The loaded MLLM embedder (None: raises, with the reason to set MMRAG_MM_MODEL).
        store: Where the segments are (`scroll`) and the `mm` vectors go (`update_vectors`).
        media: Resolves a segment's stored picture (`media_ref`) to a file.
        flt: Restrict to some sources/modalities (default: everything).
        batch: Segments per encoding round.
        progress: Called with (segments done, segments total).

    Returns:
        How many segments received an `mm` vector.

    Raises:
        ModelUnavailableError: no MLLM embedder is configured or it could not load.
        StoreError: the store failed.
    """
    if encoder is None:
        raise ModelUnavailableError("cannot re-embed into the mm space: no mm encoder (set MMRAG_MM_MODEL)")
    store.ensure({MM_SPACE: encoder.dim})
    total, done, written = store.count(flt), 0, 0
    chunk: list[Segment] = []
    for segment in store.scroll(flt):
        chunk.append(segment)
        if len(chunk) >= batch:
            written += _reembed_chunk(encoder, store, media, chunk)
            done, chunk = done + len(chunk), []
            if progress:
                progress(done, total)
    if chunk:
        written += _reembed_chunk(encoder, store, media, chunk)
        if progress:
            progress(done + len(chunk), total)
    log.info("re-embedded %d segments into the mm space", written)
    return written


def _reembed_chunk(
    encoder: MllmEmbedder, store: VectorStore, media: MediaResolver, segments: list[Segment]
) -> int:
    pictures = [_stored_picture(media, s) for s in segments]
    vectors = mm_document_vectors(encoder, segments, pictures)
    update = {s.segment_id: v for s, v in zip(segments, vectors, strict=True) if v is not None}
    if update:
        store.update_vectors(MM_SPACE, update)
    return len(update)


def _stored_picture(media: MediaResolver, segment: Segment) -> list[Image]:
    """The segment's stored thumbnail/frame as a one-item list, or [] (text segment, or media missing)."""
    if not segment.media_ref or not wants_picture(segment):
        return []
    from PIL import Image as PILImage

    try:
        with PILImage.open(media.path(segment.source_id, segment.media_ref)) as img:
            return [img.convert("RGB")]
    except (NotFoundError, OSError) as exc:
        log.warning("segment %s: no picture for the mm space (%s); using its text", segment.segment_id, exc)
        return []


class TextToImageView:
    """The MLLM embedder seen as a CLIP-style encoder for text→image search (e.g. `mmrag eval images`).

    Images are embedded on the document side; text queries with the `image` task instruction ("Retrieve
    images that match the description"), as a caption→photo search should be.
    """

    space = MM_SPACE

    def __init__(self, encoder: MllmEmbedder) -> None:
        self.encoder = encoder

    @property
    def dim(self) -> int:
        return self.encoder.dim

    def load(self) -> None:
        self.encoder.load()

    def encode_images(self, images: Sequence[Image]) -> Vector:
        return self.encoder.encode_images(images)

    def encode_queries(self, texts: Sequence[str]) -> Vector:
        return self.encoder.encode_queries(texts, task="image")

    def encode_documents(self, texts: Sequence[str]) -> Vector:
        return self.encoder.encode_documents(texts)
