"""Shared by the document extractors (DOCX, HTML, Markdown, text): blocks of text -> paragraph and document
segments. Paragraph segments are chunks of about `chunk_chars`; document segments cover consecutive chunks up
to `document_chars` (the whole document when it is short), for the router's document granularity.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Granularity, Locator, Modality, Segment, Source, segment_id
from indexing.extractors.chunking import Chunk, chunk_spans

BLOCK_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Block:
    """One paragraph-like unit of a document: a paragraph, heading, list item, table row or code block."""

    text: str
    heading: bool = False


@dataclass(frozen=True)
class TextLayout:
    """How to cut text: chunk size and overlap for paragraphs, and the size of a document segment."""

    chunk_chars: int = 1000
    chunk_overlap: int = 150
    document_chars: int = 10_000


def text_segments(
    source: Source,
    blocks: Sequence[Block],
    layout: TextLayout,
    metadata: dict[str, Any] | None = None,
) -> Iterator[Extracted]:
    """Yield paragraph segments, then document segments, for the blocks of one source.

    Offsets (`char_start`, `char_end` in metadata) index the blocks joined by blank lines. Each paragraph
    segment carries the nearest heading above it as `section`.

    Args:
        source: the file the blocks come from.
        blocks: the document's blocks in reading order (empty blocks are ignored).
        layout: chunk and document sizes.
        metadata: extra fields for every segment (title, encoding warning, ...).
    """
    blocks = [Block(" ".join(b.text.split()) if b.heading else b.text.strip(), b.heading) for b in blocks]
    blocks = [b for b in blocks if b.text]
    text, spans = join_blocks(b.text for b in blocks)
    breaks = {i for i, b in enumerate(blocks) if b.heading}
    chunks = chunk_spans(text, spans, layout.chunk_chars, layout.chunk_overlap, breaks)
    base = dict(metadata or {})
    for n, chunk in enumerate(chunks):
        section = next((blocks[i].text for i in range(chunk.first, -1, -1) if blocks[i].heading), None)
        meta = {**base, "char_start": chunk.start, "char_end": chunk.end}
        if section:
            meta["section"] = section
        yield Extracted(_segment(source, Granularity.PARAGRAPH, chunk.text, n, meta))
    for n, group in enumerate(group_chunks(chunks, layout.document_chars)):
        start, end = group[0].start, group[-1].end
        meta = {**base, "char_start": start, "char_end": end}
        yield Extracted(_segment(source, Granularity.DOCUMENT, text[start:end], n, meta))


def join_blocks(texts: Iterable[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join texts with blank lines; return the text and each part's (start, end) span in it."""
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    for t in texts:
        if parts:
            pos += len(BLOCK_SEPARATOR)
        parts.append(t)
        spans.append((pos, pos + len(t)))
        pos += len(t)
    return BLOCK_SEPARATOR.join(parts), spans


def group_chunks(chunks: Sequence[Chunk], max_chars: int) -> list[list[Chunk]]:
    """Group consecutive chunks into spans of at most `max_chars` (one group when everything fits)."""
    groups: list[list[Chunk]] = []
    for chunk in chunks:
        if groups and chunk.end - groups[-1][0].start <= max_chars:
            groups[-1].append(chunk)
        else:
            groups.append([chunk])
    return groups


def _segment(source: Source, granularity: Granularity, text: str, n: int, meta: dict[str, Any]) -> Segment:
    locator = Locator(index=n)
    return Segment(
        segment_id=segment_id(source.source_id, granularity, locator),
        source_id=source.source_id,
        uri=source.uri,
        modality=Modality.TEXT,
        granularity=granularity,
        text=text,
        locator=locator,
        metadata=meta,
    )


def require_text(items: Iterable[Extracted], uri: str) -> Iterator[Extracted]:
    """Pass items through; raise `ExtractionError` when there were none (a document with no text)."""
    empty = True
    for item in items:
        empty = False
        yield item
    if empty:
        raise ExtractionError(uri, "no text found in the document")
