"""Video files: keyframes (`frame` segments), clip windows (`clip`) and the whole video (`video`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.protocols import Extracted
from core.types import Modality, Source
from indexing.extractors.recording_extractor import RecordingExtractor
from indexing.media.av_decoder import MAX_MEDIA_S, check_duration

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)


class VideoExtractor(RecordingExtractor):
    """Extracts frames with OCR text, speech clips and a whole-video segment from a video file.

    Constructor arguments are those of `RecordingExtractor`: `asr`, `ocr`, `keyframe_min_interval_s`,
    `keyframe_max_interval_s`, `clip_window_s`, `sample_fps`, `thumb_side`, `ocr_side`.
    """

    def __init__(self, *, max_media_s: float = MAX_MEDIA_S, **kwargs: Any) -> None:
        """`max_media_s`: refuse longer recordings before decoding them; the rest as `RecordingExtractor`."""
        super().__init__(**kwargs)
        self.max_media_s = max_media_s

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """As `RecordingExtractor.extract`, after checking the duration against `max_media_s`."""
        check_duration(path, source.uri, self.max_media_s)
        yield from super().extract(source, path)

    modality = Modality.VIDEO

    def accepts(self, source: Source) -> bool:
        """Video MIME types, or an unrecognised binary whose name says video."""
        if source.mime.startswith("video/"):
            return True
        return source.mime == "application/octet-stream" and Path(source.uri).suffix.lower() in VIDEO_SUFFIXES
