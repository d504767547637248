"""The video and audio extractors, built from settings and sharing one ASR model and the OCR engine."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from indexing.audio_extractor import AudioExtractor
from indexing.video_extractor import VideoExtractor
from indexing.whisper_asr import WhisperAsr

if TYPE_CHECKING:
    from core.settings import Settings


def build_media_extractors(settings: Settings, ocr: Any = None, asr: Any = None) -> list[Any]:
    """Video then audio extractor. The Whisper model loads only when the first recording is indexed.

    Args:
        settings: ASR model/compute type/device, keyframe interval bounds, clip window length.
        ocr: the shared OCR engine (None: no on-screen text).
        asr: an ASR to use instead of building `WhisperAsr` from settings (e.g. one shared by tests).
    """
    asr = asr or WhisperAsr(
        model=settings.asr_model, compute_type=settings.asr_compute_type, device=settings.device
    )
    common = {
        "asr": asr,
        "ocr": ocr,
        "keyframe_min_interval_s": settings.keyframe_min_interval_s,
        "keyframe_max_interval_s": settings.keyframe_max_interval_s,
        "clip_window_s": settings.clip_window_s,
        "max_media_s": settings.max_media_s,
    }
    return [VideoExtractor(**common), AudioExtractor(**common)]
