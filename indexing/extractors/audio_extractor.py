"""Audio files (wav, mp3, flac, m4a, ogg, ...): speech clips and one segment for the whole recording."""

from __future__ import annotations

from pathlib import Path

from core.types import Modality, Source
from indexing.extractors.recording_extractor import RecordingExtractor

AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".flac", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".aiff"}
)


class AudioExtractor(RecordingExtractor):
    """Extracts `clip` segments (transcript windows) and a `video`-granularity segment for the whole
    recording, both with modality `audio`. A file without any speech is reported as an `ExtractionError`.

    Constructor arguments are those of `RecordingExtractor` (only `asr`, `clip_window_s` and `max_media_s` matter here).
    """

    modality = Modality.AUDIO

    def accepts(self, source: Source) -> bool:
        """Audio MIME types (m4a sniffs as audio/mp4), or an unrecognised binary named like audio."""
        if source.mime.startswith("audio/"):
            return True
        return source.mime == "application/octet-stream" and Path(source.uri).suffix.lower() in AUDIO_SUFFIXES
