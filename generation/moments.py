"""Where in a segment a sentence is said or shown: the units an answer quotes, each with its moment.

A clip or a whole recording holds many utterances and slides; citing its window (up to 30 s, or the whole
recording) leaves the user searching. Recordings store each utterance with its times (`metadata["speech"]`)
and each keyframe's on-screen text with its time (`metadata["screen"]`), so
- a sentence of the transcript is cited where it starts: interpolated inside its utterance by characters,
  then moved back by `LEAD_S` (ASR times are approximate), never before the utterance starts;
- on-screen text is cited at the keyframe that shows it;
- any other segment (a paragraph, a PDF paragraph with its page and box, a picture) keeps its own locator.
Segments indexed before recordings stored timed speech fall back to plain sentences and the window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from core.types import Granularity, Locator, Segment

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n{2,}|\n(?=[-*•]\s)")
"""Sentence boundaries: end punctuation before a capital, a blank line, or a bullet."""

LEAD_S = 1.0
"""Seconds a spoken citation starts before the interpolated start of its sentence."""

TIMED = (Granularity.CLIP, Granularity.VIDEO)
PICTURE = (Granularity.IMAGE, Granularity.FRAME)
_WORD = re.compile(r"\w+")

CITATION_ORDER: tuple[Granularity, ...] = (
    Granularity.FRAME,
    Granularity.CLIP,
    Granularity.PARAGRAPH,
    Granularity.IMAGE,
    Granularity.DOCUMENT,
    Granularity.VIDEO,
)
"""Where to cite a sentence found in several segments of one source: finest first (a keyframe or clip moment
before the whole video, a paragraph before the whole document). `rerank.route_prior.FINEST_FIRST` is the
same order (generation does not import rerank)."""


@dataclass(frozen=True)
class Unit:
    """A quotable piece of a segment: a sentence, an utterance's sentence or a slide's text.

    Attributes:
        text: The words, whitespace-normalised.
        locator: Where it is in the source (the moment); None keeps the segment's own locator.
        kind: "text" (prose), "speech" or "screen" (text read from a picture).
    """

    text: str
    locator: Locator | None = None
    kind: str = "text"

    @property
    def min_words(self) -> int:
        """Prose fragments under three words say nothing; a sign or slide may be one word and a number."""
        return 1 if self.kind == "screen" else 3


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of `text`."""
    spans, start = [], 0
    for match in SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def units(segment: Segment) -> list[Unit]:
    """The quotable units of a segment, in reading order, each with its moment when known."""
    speech = segment.metadata.get("speech") or []
    screen = segment.metadata.get("screen") or []
    if segment.granularity in TIMED and (speech or screen):
        return _speech_units(speech, segment.locator) + _screen_units(screen, segment.locator)
    kind = "screen" if segment.granularity in PICTURE else "text"
    out = []
    for a, b in sentence_spans(segment.text):
        words = " ".join(segment.text[a:b].split())
        if words:
            out.append(Unit(words, None, kind))
    return out


def _speech_units(speech: Sequence[dict[str, Any]], window: Locator) -> list[Unit]:
    """Sentences of the transcript, each at the time it starts (by characters inside its utterance)."""
    spans: list[tuple[int, int, float, float]] = []
    pieces: list[str] = []
    pos = 0
    for u in speech:
        text = " ".join(str(u.get("text", "")).split())
        if not text:
            continue
        spans.append((pos, pos + len(text), float(u["start_s"]), float(u["end_s"])))
        pieces.append(text)
        pos += len(text) + 1
    transcript = " ".join(pieces)
    out = []
    for a, b in sentence_spans(transcript):
        words = " ".join(transcript[a:b].split())
        first = _span_at(spans, a)
        last = _span_at(spans, max(a, b - 1))
        c0, c1, t0, t1 = first
        frac = (a - c0) / max(1, c1 - c0)
        start = max(t0, t0 + frac * (t1 - t0) - LEAD_S)
        out.append(
            Unit(
                words, Locator(start_s=round(start, 2), end_s=round(last[3], 2), index=window.index), "speech"
            )
        )
    return out


def _span_at(spans: Sequence[tuple[int, int, float, float]], offset: int) -> tuple[int, int, float, float]:
    for span in spans:
        if offset < span[1] + 1:
            return span
    return spans[-1]


def _screen_units(screen: Sequence[dict[str, Any]], window: Locator) -> list[Unit]:
    """Each keyframe's on-screen text, cited at the keyframe."""
    out = []
    for s in screen:
        text = " ".join(str(s.get("text", "")).split())
        if text:
            at = Locator(start_s=float(s["start_s"]), frame=s.get("frame"), index=window.index)
            out.append(Unit(text, at, "screen"))
    return out


def at_moment(segment: Segment, unit: Unit | None) -> Segment:
    """The segment cited at the unit's moment: its locator narrowed, the original kept as metadata `window`."""
    if unit is None or unit.locator is None:
        return segment
    metadata = {**segment.metadata, "window": segment.locator.to_dict(), "moment": unit.kind}
    return replace(segment, locator=unit.locator, metadata=metadata)


def locate(segment: Segment, text: str) -> Unit | None:
    """The unit of `segment` that best matches `text` (a generated sentence citing it), or None.

    Used for answers written by a model: the sentence before a `[n]` marker is matched to the evidence's
    units by shared words; a match needs at least half of the unit's words or of the sentence's.
    """
    words = set(_WORD.findall(text.lower()))
    if not words:
        return None
    best, best_score = None, 0.0
    for unit in units(segment):
        unit_words = set(_WORD.findall(unit.text.lower()))
        if not unit_words:
            continue
        shared = len(words & unit_words)
        score = shared / min(len(words), len(unit_words))
        if score > best_score:
            best, best_score = unit, score
    return best if best_score >= 0.5 else None
