"""Keyframe selection: scene changes, with a minimum and a maximum interval between keyframes.

Frames are sampled at a few per second and compared in miniature (96x54 grayscale): a keyframe is taken when
the picture differs enough from the last keyframe (a cut or a new slide) and at least `min_interval_s` has
passed, or when `max_interval_s` has passed without one (a static talk still gets a frame now and then).
Only the current frame and one small array are held, so memory does not grow with the recording's length.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from indexing.media.av_decoder import AvDecoder, DecodedFrame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Keyframe:
    """A selected frame: its decoded frame (convert with `.frame.image()`), time and why it was chosen."""

    frame: DecodedFrame
    reason: str  # "first", "scene", "slide" or "interval"

    @property
    def pts_s(self) -> float:
        return self.frame.pts_s

    @property
    def index(self) -> int:
        return self.frame.index


class SceneKeyframes:
    """Picks keyframes from a decoder's frames by scene change within interval bounds."""

    def __init__(
        self,
        min_interval_s: float = 2.0,
        max_interval_s: float = 30.0,
        sample_fps: float = 2.0,
        threshold: float = 0.12,
    ) -> None:
        """Args:
        min_interval_s: never two keyframes closer than this.
        max_interval_s: always a keyframe at least this often.
        sample_fps: frames per second looked at (more finds shorter shots, costs more conversion).
        threshold: scene-change score (0..1) above which a frame starts a new scene.
        """
        if max_interval_s < min_interval_s:
            raise ValueError("max_interval_s must be >= min_interval_s")
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self.sample_fps = sample_fps
        self.threshold = threshold

    def select(self, decoder: AvDecoder) -> Iterator[Keyframe]:
        """Yield keyframes in time order, streaming over the decoder's frames."""
        last_t: float | None = None
        last_sig: npt.NDArray[np.float32] | None = None
        prev_sig: npt.NDArray[np.float32] | None = None
        for frame in decoder.frames(sample_fps=self.sample_fps):
            sig = frame.small_gray(96, 54)
            still = prev_sig is not None and changed_fraction(prev_sig, sig) < STILL_FRACTION
            reason = self._reason(frame.pts_s, sig, last_t, last_sig, still)
            prev_sig = sig
            if reason:
                last_t, last_sig = frame.pts_s, sig
                yield Keyframe(frame, reason)

    def _reason(
        self,
        t: float,
        sig: npt.NDArray[np.float32],
        last_t: float | None,
        last_sig: npt.NDArray[np.float32] | None,
        still: bool,
    ) -> str:
        if last_t is None or last_sig is None:
            return "first"
        gap = t - last_t
        if gap >= self.max_interval_s:
            return "interval"
        if gap < self.min_interval_s:
            return ""
        if scene_change_score(last_sig, sig) >= self.threshold:
            return "scene"
        # Slides: a small change (a new title) on a picture that is otherwise perfectly still. Waiting for
        # the picture to settle also skips the half-drawn frames of a transition.
        if still and changed_fraction(last_sig, sig) >= SLIDE_FRACTION:
            return "slide"
        return ""


STILL_FRACTION = 0.0005
"""Below this fraction of changed pixels two samples show the same still picture (compression noise)."""
SLIDE_FRACTION = 0.002
"""A still picture whose pixels differ from the last keyframe's by this fraction shows new content."""


def changed_fraction(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], level: float = 0.3) -> float:
    """Fraction of pixels whose brightness changed by more than `level` (noise changes by far less)."""
    return float((np.abs(a - b) > level).mean())


def scene_change_score(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    """How different two small grayscale frames are, 0 (same) .. 1.

    Half is the mean absolute pixel difference (catches slides and cuts between similar palettes), half the
    histogram distance (robust to small camera motion, which moves pixels but keeps the histogram).
    """
    pixel = float(np.abs(a - b).mean())
    ha, _ = np.histogram(a, bins=32, range=(0.0, 1.0))
    hb, _ = np.histogram(b, bins=32, range=(0.0, 1.0))
    hist = 0.5 * float(np.abs(ha / max(ha.sum(), 1) - hb / max(hb.sum(), 1)).sum())
    return 0.5 * pixel + 0.5 * hist
