"""Cutting a recording's timeline into overlapping clip windows aligned to speech segment boundaries.

A window never splits an utterance: it grows segment by segment until it spans about `window_s` seconds, and
the next window starts at an utterance inside the last `overlap_s` of it, so a sentence near a boundary is
found in both. Stretches without speech (a silent intro, music, a video without sound) are cut into
fixed-length pieces so their frames and on-screen text still land in some window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from indexing.extractors.whisper_asr import SpeechSegment


@dataclass(frozen=True)
class ClipWindow:
    """One clip: a time span and the speech segments inside it."""

    start_s: float
    end_s: float
    speech: tuple[SpeechSegment, ...] = ()

    @property
    def transcript(self) -> str:
        return " ".join(s.text for s in self.speech).strip()

    def contains(self, t: float) -> bool:
        return self.start_s <= t <= self.end_s


def plan_windows(
    speech: Sequence[SpeechSegment], duration_s: float, window_s: float = 30.0, overlap_s: float | None = None
) -> list[ClipWindow]:
    """Plan clip windows over `[0, duration_s]`.

    Args:
        speech: recognised speech segments in time order.
        duration_s: length of the recording (the last speech end is used when it is longer).
        window_s: target window length in seconds.
        overlap_s: how much consecutive windows share (default a fifth of the window).

    Returns:
        Windows in time order covering the whole recording.
    """
    overlap = window_s / 5 if overlap_s is None else overlap_s
    units = _units(speech, max(duration_s, speech[-1].end_s if speech else 0.0), window_s / 4)
    windows: list[ClipWindow] = []
    i = 0
    while i < len(units):
        j = i
        while j + 1 < len(units) and units[j + 1][1] - units[i][0] <= window_s:
            j += 1
        start, end = units[i][0], units[j][1]
        windows.append(ClipWindow(start, end, tuple(u[2] for u in units[i : j + 1] if u[2] is not None)))
        if j + 1 >= len(units):
            break
        # Next window: the first unit that starts inside the overlap, but always move forward.
        nxt = next((k for k in range(i + 1, j + 1) if units[k][0] >= end - overlap), j + 1)
        i = nxt
    return _close_gaps(windows, max(duration_s, units[-1][1] if units else 0.0))


def _close_gaps(windows: list[ClipWindow], end_s: float) -> list[ClipWindow]:
    """Stretch windows so that together they cover [0, end_s] (short silences fall between units)."""
    closed: list[ClipWindow] = []
    for w in windows:
        start = 0.0 if not closed else min(w.start_s, closed[-1].end_s)
        closed.append(ClipWindow(start, w.end_s, w.speech))
    if closed and closed[-1].end_s < end_s:
        last = closed[-1]
        closed[-1] = ClipWindow(last.start_s, end_s, last.speech)
    return closed


def _units(
    speech: Sequence[SpeechSegment], duration: float, filler_s: float
) -> list[tuple[float, float, SpeechSegment | None]]:
    """Speech segments plus filler pieces for the gaps between them, in time order."""
    units: list[tuple[float, float, SpeechSegment | None]] = []
    cursor = 0.0
    for seg in sorted(speech, key=lambda s: s.start_s):
        units.extend(_filler(cursor, seg.start_s, filler_s))
        units.append((seg.start_s, max(seg.end_s, seg.start_s), seg))
        cursor = max(cursor, seg.end_s)
    units.extend(_filler(cursor, duration, filler_s))
    return units


def _filler(start: float, end: float, piece_s: float) -> list[tuple[float, float, None]]:
    """Fixed pieces over a gap; gaps under a second are absorbed by the neighbouring windows."""
    if end - start < 1.0:
        return []
    n = max(1, round((end - start) / piece_s))
    step = (end - start) / n
    return [(start + k * step, start + (k + 1) * step, None) for k in range(n)]
