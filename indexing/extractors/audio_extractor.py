"""Audio files (wav, mp3, flac, m4a, ogg, ...): speech clips and one segment for the whole recording."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.protocols import Extracted
from core.types import Modality, Source
from indexing.extractors.recording_extractor import RecordingExtractor
from indexing.media.av_decoder import MAX_MEDIA_S, check_duration

AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".flac", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aiff"}
)


class AudioExtractor(RecordingExtractor):
    """Extracts `clip` segments (transcript windows) and a `video`-granularity segment for the whole
    recording, both with modality `audio`. A file without any speech is reported as an `ExtractionError`.

    Constructor arguments are those of `RecordingExtractor` (only `asr` and `clip_window_s` matter here).
    """

    def __init__(self, *, max_media_s: float = MAX_MEDIA_S, **kwargs: Any) -> None:
        """`max_media_s`: refuse longer recordings before decoding them; the rest as `RecordingExtractor`."""
        super().__init__(**kwargs)
        self.max_media_s = max_media_s

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """As `RecordingExtractor.extract`, after checking the duration against `max_media_s`."""
        check_duration(path, source.uri, self.max_media_s)
        yield from super().extract(source, path)

    modality = Modality.AUDIO

    def accepts(self, source: Source) -> bool:
        """Audio MIME types (m4a sniffs as audio/mp4), or an unrecognised binary named like audio."""
        if source.mime.startswith("audio/"):
            return True
        return source.mime == "application/octet-stream" and Path(source.uri).suffix.lower() in AUDIO_SUFFIXES
