"""PyAV decoding of video and audio files: probe, streamed frames, streamed 16 kHz mono audio.

PyAV links its own FFmpeg libraries, so no `ffmpeg` binary is needed. Everything here streams: frames are
yielded one at a time and audio in fixed-length chunks, so a 10-hour recording decodes in bounded memory.
Bad files (zero-length, truncated, unsupported codec, no streams) raise `ExtractionError(uri, reason)`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from core.errors import ExtractionError

if TYPE_CHECKING:
    from PIL.Image import Image

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
"""Audio is resampled to 16 kHz mono float32: what Whisper expects."""


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learns about a file without decoding it."""

    duration_s: float
    has_video: bool
    has_audio: bool
    width: int = 0
    height: int = 0
    fps: float = 0.0
    rotation: int = 0
    video_codec: str = ""
    audio_codec: str = ""


class DecodedFrame:
    """One decoded video frame. Conversions are lazy: most frames are only looked at in miniature."""

    def __init__(self, frame: Any, index: int, pts_s: float, rotation: int) -> None:
        self._frame = frame
        self.index = index
        self.pts_s = pts_s
        self.rotation = rotation

    def small_gray(self, width: int = 64, height: int = 36) -> npt.NDArray[np.float32]:
        """A tiny grayscale copy (values 0..1) for cheap scene-change comparison."""
        small = self._frame.reformat(width=width, height=height, format="gray")
        return small.to_ndarray().astype(np.float32) / 255.0

    def image(self, max_side: int = 1280) -> Image:
        """The frame as an RGB PIL image, rotated upright and no larger than `max_side` pixels."""
        w, h = self._frame.width, self._frame.height
        scale = min(1.0, max_side / max(w, h))
        # Scaling inside FFmpeg (swscale) is far cheaper than converting full size and resizing in PIL.
        frame = self._frame.reformat(
            width=max(2, int(w * scale)) // 2 * 2, height=max(2, int(h * scale)) // 2 * 2, format="rgb24"
        )
        img = frame.to_image()
        if self.rotation:
            # Display-matrix rotation is counter-clockwise degrees; PIL rotates counter-clockwise too.
            img = img.rotate(self.rotation, expand=True)
        return img


class AvDecoder:
    """Decodes one media file. Cheap to build; each method opens the file anew and closes it when done."""

    def __init__(self, path: str | Path, uri: str | None = None) -> None:
        self.path = str(path)
        self.uri = uri or self.path
        # Set when a damaged file stops decoding early (seconds decoded), per stream type.
        self.video_stopped_at_s: float | None = None
        self.audio_stopped_at_s: float | None = None

    def _open(self) -> Any:
        import av

        p = Path(self.path)
        if not p.exists():
            raise ExtractionError(self.uri, "file not found")
        if p.stat().st_size == 0:
            raise ExtractionError(self.uri, "zero-length file")
        try:
            return av.open(self.path, metadata_errors="ignore")
        except av.error.InvalidDataError as exc:
            raise ExtractionError(self.uri, f"not a readable media file ({exc.strerror or exc})") from exc
        except av.error.FFmpegError as exc:
            raise ExtractionError(self.uri, f"cannot open media ({exc})") from exc

    def probe(self) -> MediaInfo:
        """Read stream headers: duration, which streams exist, size, fps, rotation, codecs.

        Raises:
            ExtractionError: zero-length, unreadable, no audio/video stream, or a codec FFmpeg cannot decode.
        """
        with self._open() as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            if video is None and audio is None:
                raise ExtractionError(self.uri, "no audio or video stream")
            for stream in (video, audio):
                if stream is not None and stream.codec_context is None:
                    raise ExtractionError(self.uri, f"unsupported codec in {stream.type} stream")
            duration = _duration(container, video, audio)
            return MediaInfo(
                duration_s=duration,
                has_video=video is not None,
                has_audio=audio is not None,
                width=video.codec_context.width if video else 0,
                height=video.codec_context.height if video else 0,
                fps=float(video.average_rate or 0) if video else 0.0,
                rotation=_stream_rotation(video) if video else 0,
                video_codec=video.codec_context.name if video else "",
                audio_codec=audio.codec_context.name if audio else "",
            )

    def frames(self, sample_fps: float | None = None) -> Iterator[DecodedFrame]:
        """Yield video frames in presentation order, optionally thinned to about `sample_fps` per second.

        Every frame is decoded (codecs need their references) but only sampled ones are handed out, and
        pixel conversion happens only when the caller asks for it.

        Raises:
            ExtractionError: the file has no video stream or the stream cannot be decoded at all.
        """
        import av

        with self._open() as container:
            if not container.streams.video:
                raise ExtractionError(self.uri, "no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rotation = _stream_rotation(stream)
            tb = float(stream.time_base or 0) or 1 / 90000
            step = 1.0 / sample_fps if sample_fps else 0.0
            next_t, index, yielded, t = 0.0, -1, 0, 0.0
            try:
                for frame in container.decode(stream):
                    index += 1
                    t = (
                        float(frame.pts * tb)
                        if frame.pts is not None
                        else index / float(stream.average_rate or 25)
                    )
                    if step and t + 1e-6 < next_t:
                        continue
                    next_t = t + step
                    rot = int(getattr(frame, "rotation", 0) or 0) or rotation
                    yielded += 1
                    yield DecodedFrame(frame, index, max(0.0, t), rot)
            except av.error.FFmpegError as exc:
                # A truncated file decodes up to the damage: keep what we have, fail only if nothing came out.
                if yielded == 0:
                    raise ExtractionError(self.uri, f"video stream cannot be decoded ({exc})") from exc
                self.video_stopped_at_s = t
                log.warning("%s: video decoding stopped early at frame %d: %s", self.uri, index, exc)
                return
            if yielded == 0:
                raise ExtractionError(self.uri, "video stream has no decodable frames (truncated?)")
            expected = _duration(container, stream, None)
            if expected and t < expected - max(2.0, 3 / float(stream.average_rate or 1)):
                # The data ends long before the header says: a file cut short after its index.
                self.video_stopped_at_s = t
                log.warning("%s: video ends at %.1f s of %.1f s (truncated?)", self.uri, t, expected)

    def audio_chunks(self, chunk_s: float = 30.0) -> Iterator[npt.NDArray[np.float32]]:
        """Yield the first audio track as 16 kHz mono float32 chunks of `chunk_s` seconds (the last shorter).

        Raises:
            ExtractionError: the file has no audio stream or it cannot be decoded at all.
        """
        import av

        chunk_len = max(1, int(chunk_s * SAMPLE_RATE))
        with self._open() as container:
            if not container.streams.audio:
                raise ExtractionError(self.uri, "no audio stream")
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            buffer: list[npt.NDArray[np.float32]] = []
            buffered, decoded = 0, 0
            try:
                for frame in container.decode(stream):
                    frame.pts = None  # let the resampler keep its own clock across gaps
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                        buffer.append(samples)
                        buffered += samples.size
                        decoded += samples.size
                    while buffered >= chunk_len:
                        chunk, buffer, buffered = _take(buffer, chunk_len)
                        yield chunk
                for out in resampler.resample(None):
                    buffer.append(out.to_ndarray().reshape(-1).astype(np.float32, copy=False))
            except av.error.FFmpegError as exc:
                if decoded == 0:
                    raise ExtractionError(self.uri, f"audio stream cannot be decoded ({exc})") from exc
                self.audio_stopped_at_s = decoded / SAMPLE_RATE
                log.warning("%s: audio decoding stopped early: %s", self.uri, exc)
            rest = np.concatenate(buffer) if buffer else np.zeros(0, np.float32)
            for start in range(0, rest.size, chunk_len):
                yield rest[start : start + chunk_len]


def _take(
    buffer: list[npt.NDArray[np.float32]], n: int
) -> tuple[npt.NDArray[np.float32], list[npt.NDArray[np.float32]], int]:
    """Split the first `n` samples off a list of arrays."""
    joined = np.concatenate(buffer)
    rest = joined[n:]
    return joined[:n].copy(), ([rest] if rest.size else []), int(rest.size)


def _duration(container: Any, video: Any, audio: Any) -> float:
    """Container duration, else the longest stream's; 0.0 when nothing says."""
    if container.duration:
        return float(container.duration) / 1_000_000
    best = 0.0
    for stream in (video, audio):
        if stream is not None and stream.duration and stream.time_base:
            best = max(best, float(stream.duration * stream.time_base))
    return best


def _stream_rotation(stream: Any) -> int:
    """Counter-clockwise rotation from the legacy `rotate` tag (clockwise degrees); newer files carry a
    per-frame display matrix instead, which `DecodedFrame` reads."""
    try:
        return -int(float(stream.metadata.get("rotate", 0))) % 360
    except (TypeError, ValueError):
        return 0


MAX_MEDIA_S = 6 * 3600.0
"""Default `max_media_s`: longer recordings are refused before any decoding."""


def check_duration(path: str | Path, uri: str, max_s: float) -> None:
    """Refuse a recording longer than `max_s` seconds (as its headers say), before decoding it.

    Raises:
        ExtractionError: over the limit (naming the setting), or unreadable.
    """
    duration = AvDecoder(path, uri=uri).probe().duration_s
    if duration > max_s:
        raise ExtractionError(
            uri,
            f"recording lasts {_span(duration)}, over the limit of {_span(max_s)} (max_media_s)",
        )


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
