"""Shared extraction of recordings (video and audio): speech, keyframes, clips and the whole recording.

`VideoExtractor` and `AudioExtractor` are thin subclasses. The work streams: speech is transcribed first (text
only is kept), then frames are decoded once; each keyframe is yielded as a `frame` segment at once, and each
clip window is yielded as soon as decoding passes its end, so only the keyframes of open windows and a few
representative frames are held at any time.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Granularity, Locator, Modality, Segment, Source, segment_id
from indexing.extractors.whisper_asr import SpeechSegment
from indexing.media.av_decoder import MAX_MEDIA_S, AvDecoder, MediaInfo, check_duration
from indexing.media.clip_windows import ClipWindow, plan_windows
from indexing.media.keyframes import SceneKeyframes

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

MAX_CLIP_IMAGES = 8
VIDEO_FRAMES = 8
SUMMARY_CHARS = 2000
TRANSCRIPT_CHARS = 20_000


@dataclass
class FrameInfo:
    """A keyframe as clips and the whole-recording segment see it."""

    t: float
    name: str
    thumb: Image
    ocr: str
    index: int | None = None  # the frame's index in the video


@dataclass
class _Open:
    window: ClipWindow
    index: int
    frames: list[FrameInfo] = field(default_factory=list)


class RecordingExtractor:
    """Base of the video and audio extractors; subclasses set `modality` and `accepts`."""

    modality = Modality.VIDEO

    def __init__(
        self,
        *,
        asr: Any = None,
        ocr: Any = None,
        keyframe_min_interval_s: float = 2.0,
        keyframe_max_interval_s: float = 30.0,
        clip_window_s: float = 30.0,
        sample_fps: float = 2.0,
        thumb_side: int = 384,
        ocr_side: int = 1280,
        max_media_s: float = MAX_MEDIA_S,
    ) -> None:
        """Args:
        asr: a `WhisperAsr` (or anything with `iter_transcribe(chunks)`); None skips speech.
        ocr: a `RapidOcr` (anything with `read(image) -> str`); None skips on-screen text.
        keyframe_min_interval_s / keyframe_max_interval_s: bounds on the gap between keyframes.
        clip_window_s: target clip length in seconds.
        sample_fps: frames per second examined for scene changes.
        thumb_side: longest side of stored thumbnails and of the pictures embedded by CLIP.
        ocr_side: longest side of the picture OCR reads (on-screen text needs more pixels).
        max_media_s: refuse longer recordings before decoding them.
        """
        self.asr = asr
        self.ocr = ocr
        self.keyframes = SceneKeyframes(keyframe_min_interval_s, keyframe_max_interval_s, sample_fps)
        self.clip_window_s = clip_window_s
        self.thumb_side = thumb_side
        self.ocr_side = ocr_side
        self.max_media_s = max_media_s

    def accepts(self, source: Source) -> bool:  # pragma: no cover - subclasses decide
        raise NotImplementedError

    # --- extraction ---------------------------------------------------------------------------------------
    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield frame, clip and recording segments; raise `ExtractionError` for an unreadable file or one
        longer than `max_media_s`."""
        check_duration(path, source.uri, self.max_media_s)
        decoder = AvDecoder(path, uri=source.uri)
        info = decoder.probe()
        speech = self._speech(decoder, info)
        use_frames = info.has_video and self.modality is Modality.VIDEO
        # An .mp4 holding only sound is a recording of audio, whatever its container says.
        modality = self.modality if use_frames else Modality.AUDIO
        if not use_frames and not info.has_audio:
            raise ExtractionError(source.uri, "no audio stream")
        windows = plan_windows(speech, info.duration_s, self.clip_window_s)
        frames: list[FrameInfo] = []
        open_: list[_Open] = [_Open(w, i) for i, w in enumerate(windows)]
        picks = _Representatives(info.duration_s or (speech[-1].end_s if speech else 0.0))
        if use_frames:
            for item, frame in self._frames(source, decoder):
                frames.append(frame)
                picks.offer(frame)
                yield item
                while open_ and open_[0].window.end_s < frame.t:
                    yield from self._clip(source, open_.pop(0), frames, modality)
                frames = _still_needed(frames, open_[0].window.start_s if open_ else frame.t)
        if use_frames and decoder.video_stopped_at_s is not None:
            # A damaged file: keep what decoded, but do not claim windows past the damage.
            cut = max(decoder.video_stopped_at_s, speech[-1].end_s if speech else 0.0)
            open_ = [p for p in open_ if p.window.start_s <= cut]
            for p in open_:
                p.window = ClipWindow(p.window.start_s, min(p.window.end_s, cut), p.window.speech)
            info = replace(info, duration_s=cut)
        for pending in open_:
            yield from self._clip(source, pending, frames, modality)
        if not speech and not use_frames:
            raise ExtractionError(source.uri, "no speech found in the audio")
        yield from self._recording(source, info, speech, picks.frames(), modality)

    def _speech(self, decoder: AvDecoder, info: MediaInfo) -> list[SpeechSegment]:
        if self.asr is None or not info.has_audio:
            return []
        try:
            return list(self.asr.iter_transcribe(decoder.audio_chunks(chunk_s=30.0)))
        except ExtractionError as exc:
            if self.modality is Modality.AUDIO or not info.has_video:
                raise
            # A broken audio track should not cost the pictures: index the video without speech.
            log.warning("%s: no speech indexed: %s", decoder.uri, exc.reason)
            return []

    def _frames(self, source: Source, decoder: AvDecoder) -> Iterator[tuple[Extracted, FrameInfo]]:
        for kf in self.keyframes.select(decoder):
            big = kf.frame.image(max_side=self.ocr_side)
            thumb = big.copy()
            thumb.thumbnail((self.thumb_side, self.thumb_side))
            text = self._ocr(big)
            name = f"frame-{kf.index}.jpg"
            locator = Locator(start_s=round(kf.pts_s, 3), frame=kf.index)
            segment = Segment(
                segment_id=segment_id(source.source_id, Granularity.FRAME, locator),
                source_id=source.source_id,
                uri=source.uri,
                modality=self.modality,
                granularity=Granularity.FRAME,
                text=text,
                locator=locator,
                media_ref=name,
                metadata={"ocr_text": text, "keyframe": kf.reason},
            )
            yield (
                Extracted(segment, images=[thumb], media={name: thumb}),
                FrameInfo(kf.pts_s, name, thumb, text, kf.index),
            )

    def _ocr(self, image: Image) -> str:
        if self.ocr is None:
            return ""
        try:
            return str(self.ocr.read(image)).strip()
        except Exception as exc:  # OCR failing on one frame must not lose the recording
            log.warning("OCR failed on a frame: %s", exc)
            return ""

    def _clip(
        self, source: Source, pending: _Open, frames: list[FrameInfo], modality: Modality
    ) -> Iterator[Extracted]:
        w = pending.window
        inside = _on_screen(frames, w.start_s, w.end_s)
        transcript = w.transcript
        ocr_text = _unique_lines(f.ocr for f in inside)
        if not transcript and not ocr_text and not inside:
            return  # silence with nothing on screen: nothing to find here
        chosen = _spread(inside, MAX_CLIP_IMAGES)
        locator = Locator(start_s=round(w.start_s, 3), end_s=round(w.end_s, 3), index=pending.index)
        segment = Segment(
            segment_id=segment_id(source.source_id, Granularity.CLIP, locator),
            source_id=source.source_id,
            uri=source.uri,
            modality=modality,
            granularity=Granularity.CLIP,
            text=_join(transcript, ocr_text),
            locator=locator,
            media_ref=chosen[0].name if chosen else None,
            metadata={
                "transcript": transcript,
                "ocr_text": ocr_text,
                "keyframes": [f.name for f in chosen],
                "language": w.speech[0].language if w.speech else "",
                "speech": _timed_speech(w.speech),
                "screen": _timed_screen(inside),
            },
        )
        yield Extracted(segment, images=[f.thumb for f in chosen])

    def _recording(
        self,
        source: Source,
        info: MediaInfo,
        speech: list[SpeechSegment],
        picks: list[FrameInfo],
        modality: Modality,
    ) -> Iterator[Extracted]:
        transcript = " ".join(s.text for s in speech).strip()
        ocr_text = _unique_lines(f.ocr for f in picks)
        end = info.duration_s or (speech[-1].end_s if speech else 0.0)
        if not transcript and not picks:
            return  # e.g. an audio file without speech: nothing searchable, the caller reports it
        locator = Locator(start_s=0.0, end_s=round(end, 3))
        segment = Segment(
            segment_id=segment_id(source.source_id, Granularity.VIDEO, locator),
            source_id=source.source_id,
            uri=source.uri,
            modality=modality,
            granularity=Granularity.VIDEO,
            text=_join(_summary(transcript), ocr_text),
            locator=locator,
            media_ref=picks[0].name if picks else None,
            metadata={
                "transcript": transcript[:TRANSCRIPT_CHARS],
                "ocr_text": ocr_text,
                "keyframes": [f.name for f in picks],
                "speech": _timed_speech(speech, TRANSCRIPT_CHARS),
                "screen": _timed_screen(picks),
                "duration_s": round(end, 3),
                "language": speech[0].language if speech else "",
                "width": info.width,
                "height": info.height,
            },
        )
        yield Extracted(segment, images=[f.thumb for f in picks])


class _Representatives:
    """Keeps, for each of a few evenly spaced moments, the keyframe nearest to it (bounded memory)."""

    def __init__(self, duration_s: float, n: int = VIDEO_FRAMES) -> None:
        span = max(duration_s, 1e-6)
        self.targets = [(k + 0.5) * span / n for k in range(n)]
        self.best: list[FrameInfo | None] = [None] * n

    def offer(self, frame: FrameInfo) -> None:
        for k, target in enumerate(self.targets):
            cur = self.best[k]
            if cur is None or abs(frame.t - target) < abs(cur.t - target):
                self.best[k] = frame

    def frames(self) -> list[FrameInfo]:
        seen: dict[str, FrameInfo] = {}
        for f in self.best:
            if f is not None:
                seen.setdefault(f.name, f)
        return sorted(seen.values(), key=lambda f: f.t)


def _on_screen(frames: list[FrameInfo], start_s: float, end_s: float) -> list[FrameInfo]:
    """Keyframes shown during a window: those inside it, plus the one still on screen when it starts."""
    before = [f for f in frames if f.t <= start_s]
    inside = [f for f in frames if start_s < f.t <= end_s]
    return before[-1:] + inside


def _still_needed(frames: list[FrameInfo], start_s: float) -> list[FrameInfo]:
    """Drop keyframes no open window can use: keep those from `start_s` on and the last one before."""
    keep = [f for f in frames if f.t >= start_s]
    before = [f for f in frames if f.t < start_s]
    return before[-1:] + keep


def _spread(frames: list[FrameInfo], n: int) -> list[FrameInfo]:
    """At most `n` frames, evenly spread over the list."""
    if len(frames) <= n:
        return frames
    step = len(frames) / n
    return [frames[int(k * step)] for k in range(n)]


def _unique_lines(texts: Any) -> str:
    """On-screen text of several frames, each line once (a slide stays up across many keyframes)."""
    seen: dict[str, None] = {}
    for text in texts:
        for line in str(text).splitlines():
            if line.strip():
                seen.setdefault(line.strip(), None)
    return "\n".join(seen)


def _timed_speech(speech: Sequence[SpeechSegment], max_chars: int | None = None) -> list[dict[str, Any]]:
    """Each utterance with its times, so an answer can cite the moment a sentence is said.

    Stored in the clip's and the recording's metadata (`speech`); `max_chars` bounds the text kept.
    """
    out: list[dict[str, Any]] = []
    total = 0
    for s in speech:
        text = s.text.strip()
        if not text:
            continue
        total += len(text) + 1
        if max_chars is not None and total > max_chars:
            break
        out.append({"start_s": round(s.start_s, 3), "end_s": round(s.end_s, 3), "text": text})
    return out


def _timed_screen(frames: Sequence[FrameInfo]) -> list[dict[str, Any]]:
    """The on-screen text of each keyframe with its time (`screen`), for citing when a fact is shown."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for f in frames:
        text = " ".join(f.ocr.split())
        if text and text not in seen:  # a slide held over several keyframes: cite when it first shows
            seen.add(text)
            out.append({"start_s": round(f.t, 3), "frame": f.index, "text": text})
    return out


def _summary(transcript: str) -> str:
    if len(transcript) <= SUMMARY_CHARS:
        return transcript
    cut = transcript.rfind(" ", 0, SUMMARY_CHARS)
    return transcript[: cut if cut > 0 else SUMMARY_CHARS] + " …"


def _join(transcript: str, ocr_text: str) -> str:
    if ocr_text and transcript:
        return f"{transcript}\n\nOn screen: {ocr_text}"
    return transcript or (f"On screen: {ocr_text}" if ocr_text else "")
