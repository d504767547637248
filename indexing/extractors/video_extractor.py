"""Video files: keyframes (`frame` segments), clip windows (`clip`) and the whole video (`video`)."""

from __future__ import annotations

from pathlib import Path

from core.types import Modality, Source
from indexing.extractors.recording_extractor import RecordingExtractor

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}
)


class VideoExtractor(RecordingExtractor):
    """Extracts frames with OCR text, speech clips and a whole-video segment from a video file.

    Constructor arguments are those of `RecordingExtractor`: `asr`, `ocr`, `keyframe_min_interval_s`,
    `keyframe_max_interval_s`, `clip_window_s`, `sample_fps`, `thumb_side`, `ocr_side`, `max_media_s`.
    """

    modality = Modality.VIDEO

    def accepts(self, source: Source) -> bool:
        """Video MIME types, or an unrecognised binary whose name says video."""
        if source.mime.startswith("video/"):
            return True
        return source.mime == "application/octet-stream" and Path(source.uri).suffix.lower() in VIDEO_SUFFIXES
