"""Paragraph chunking: keep paragraph boundaries, merge short paragraphs, split long ones with overlap.

Chunks are character spans of one text, so every chunk can be traced back to where it came from. Long
paragraphs are cut near `chunk_chars` at a sentence end when there is one (else at a space), and the next
piece starts `overlap` characters earlier so that a sentence cut in two is still found whole in one piece.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")
_SENTENCE_END = re.compile(r"[.!?。！？:;](?=\s)")


@dataclass(frozen=True)
class Chunk:
    """A span `text[start:end]` covering paragraphs `first..last` (indices into the paragraph list)."""

    text: str
    start: int
    end: int
    first: int
    last: int


def split_paragraphs(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) spans of the blank-line separated, non-blank paragraphs of `text`."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _PARAGRAPH_BREAK.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return [s for s in (_strip(text, a, b) for a, b in spans) if s[1] > s[0]]


def chunk_text(text: str, chunk_chars: int = 1000, overlap: int = 150) -> list[Chunk]:
    """Chunk a text whose paragraphs are separated by blank lines. See `chunk_spans`."""
    return chunk_spans(text, split_paragraphs(text), chunk_chars, overlap)


def chunk_spans(
    text: str,
    spans: Sequence[tuple[int, int]],
    chunk_chars: int = 1000,
    overlap: int = 150,
    breaks: Collection[int] = (),
) -> list[Chunk]:
    """Group paragraph spans into chunks of at most about `chunk_chars` characters.

    Consecutive short paragraphs are merged while they fit; a paragraph longer than `chunk_chars` is split
    into overlapping pieces of its own. A paragraph index in `breaks` (e.g. a heading) always starts a new
    chunk, so sections are not glued to the end of the previous one.

    Args:
        text: the text the spans index into.
        spans: (start, end) of each paragraph, in order.
        chunk_chars: target maximum chunk length.
        overlap: characters repeated between the pieces of a split paragraph.
        breaks: paragraph indices that must start a chunk.

    Returns:
        Chunks in text order.
    """
    if chunk_chars <= 0:
        raise ValueError("chunk_chars must be positive")
    overlap = max(0, min(overlap, chunk_chars // 2))
    chunks: list[Chunk] = []
    group: list[int] = []  # paragraph indices waiting to be merged into one chunk

    def flush() -> None:
        if group:
            start, end = spans[group[0]][0], spans[group[-1]][1]
            chunks.append(Chunk(text[start:end], start, end, group[0], group[-1]))
            group.clear()

    for i, (start, end) in enumerate(spans):
        if end - start > chunk_chars:
            flush()
            chunks.extend(
                Chunk(text[a:b], a, b, i, i) for a, b in _split_long(text, start, end, chunk_chars, overlap)
            )
            continue
        if group and (i in breaks or end - spans[group[0]][0] > chunk_chars):
            flush()
        group.append(i)
    flush()
    return chunks


def _split_long(text: str, start: int, end: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Cut `text[start:end]` into pieces of at most `size` characters that overlap by about `overlap`."""
    pieces: list[tuple[int, int]] = []
    pos = start
    while end - pos > size:
        cut = _best_cut(text, pos, pos + size)
        pieces.append(_strip(text, pos, cut))
        nxt = _overlap_start(text, max(cut - overlap, pos + 1), cut)
        pos = nxt if nxt > pos else cut
    pieces.append(_strip(text, pos, end))
    return [p for p in pieces if p[1] > p[0]]


def _best_cut(text: str, lo: int, hi: int) -> int:
    """The end of the last sentence in the second half of `text[lo:hi]`, else its last space, else `hi`."""
    floor = lo + (hi - lo) // 2
    window = text[floor:hi]
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    if ends:
        return floor + ends[-1]
    space = max(window.rfind(" "), window.rfind("\n"))
    return floor + space + 1 if space >= 0 else hi


def _overlap_start(text: str, pos: int, limit: int) -> int:
    """Where the next piece starts: the first sentence start in `text[pos:limit]`, else the next word start."""
    m = _SENTENCE_END.search(text, pos, limit)
    if m is not None:
        start, _ = _strip(text, m.end(), limit)
        if start < limit:
            return start
    return _word_start(text, pos, limit)


def _word_start(text: str, pos: int, limit: int) -> int:
    """Move `pos` forward to the start of the next word (not past `limit`), so pieces do not begin mid-word."""
    if pos == 0 or text[pos - 1].isspace():
        return pos
    nxt = pos
    while nxt < limit and not text[nxt].isspace():
        nxt += 1
    while nxt < limit and text[nxt].isspace():
        nxt += 1
    return nxt if nxt < limit else pos


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
