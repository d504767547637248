"""The extractor, OCR and ASR backends for the registry, and the choice of an extractor for a source.

Every registered extractor is used; they are tried from the highest priority down, so the catch-all text
extractor (priority -100) comes last and a plugin's extractor (priority 0) before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from core.errors import UnsupportedTypeError
from core.protocols import Asr, Extractor, Ocr
from core.registry import Components, Registry
from core.types import Source

if TYPE_CHECKING:
    from indexing.extractors.text_segments import TextLayout


class TextConfig(BaseModel):
    """Text chunking."""

    chunk_chars: int = 1000
    chunk_overlap: int = 150
    max_text_chars: int = 5_000_000


class DocumentConfig(TextConfig):
    """Chunking plus the decompression-bomb limit for embedded pictures."""

    max_image_pixels: int = 100_000_000
    max_pdf_pages: int = 5000
    max_ocr_pages: int = 100
    max_archive_mb: int = 256
    max_archive_ratio: int = 100


class ImageConfig(BaseModel):
    """The decompression-bomb limit."""

    max_image_pixels: int = 100_000_000
    max_image_frames: int = 10_000


class RecordingConfig(BaseModel):
    """Keyframe sampling and clip windows of videos and audio recordings."""

    keyframe_min_interval_s: float = 2.0
    keyframe_max_interval_s: float = 30.0
    clip_window_s: float = 30.0
    max_media_s: float = 6 * 3600.0


class RapidOcrConfig(BaseModel):
    """RapidOCR on onnxruntime (models ship in the package)."""


class WhisperConfig(BaseModel):
    """faster-whisper; `asr_model` "packaged" = tiny.en."""

    asr_model: str = "packaged"
    asr_compute_type: str = "int8"
    device: str = "auto"


def _layout(cfg: TextConfig) -> TextLayout:
    from indexing.extractors.text_segments import TextLayout

    return TextLayout(chunk_chars=cfg.chunk_chars, chunk_overlap=cfg.chunk_overlap)


def _pdf(cfg: DocumentConfig, c: Components) -> Extractor:
    from indexing.extractors.pdf_extractor import PdfExtractor

    return PdfExtractor(
        layout=_layout(cfg),
        ocr=c.ocr,
        max_image_pixels=cfg.max_image_pixels,
        max_pages=cfg.max_pdf_pages,
        max_ocr_pages=cfg.max_ocr_pages,
    )


def _docx(cfg: DocumentConfig, _: Components) -> Extractor:
    from indexing.extractors.docx_extractor import DocxExtractor

    return DocxExtractor(
        layout=_layout(cfg),
        max_image_pixels=cfg.max_image_pixels,
        max_archive_mb=cfg.max_archive_mb,
        max_archive_ratio=cfg.max_archive_ratio,
    )


def _html(cfg: TextConfig, _: Components) -> Extractor:
    from indexing.extractors.html_extractor import HtmlExtractor

    return HtmlExtractor(layout=_layout(cfg), max_chars=cfg.max_text_chars)


def _markdown(cfg: TextConfig, _: Components) -> Extractor:
    from indexing.extractors.markdown_extractor import MarkdownExtractor

    return MarkdownExtractor(layout=_layout(cfg), max_chars=cfg.max_text_chars)


def _image(cfg: ImageConfig, c: Components) -> Extractor:
    from indexing.extractors.image_extractor import ImageExtractor

    return ImageExtractor(ocr=c.ocr, max_image_pixels=cfg.max_image_pixels, max_frames=cfg.max_image_frames)


def _recording(cfg: RecordingConfig, c: Components) -> dict[str, Any]:
    return {"asr": c.asr, "ocr": c.ocr, **cfg.model_dump()}


def _video(cfg: RecordingConfig, c: Components) -> Extractor:
    from indexing.extractors.video_extractor import VideoExtractor

    return VideoExtractor(**_recording(cfg, c))


def _audio(cfg: RecordingConfig, c: Components) -> Extractor:
    from indexing.extractors.audio_extractor import AudioExtractor

    return AudioExtractor(**_recording(cfg, c))


def _text(cfg: TextConfig, _: Components) -> Extractor:
    from indexing.extractors.text_extractor import TextExtractor

    return TextExtractor(layout=_layout(cfg), max_chars=cfg.max_text_chars)


def _rapidocr(_: RapidOcrConfig, __: Components) -> Ocr:
    from indexing.extractors.rapidocr_ocr import RapidOcr

    return RapidOcr()


def _whisper(cfg: WhisperConfig, _: Components) -> Asr:
    from indexing.extractors.whisper_asr import WhisperAsr

    return WhisperAsr(model=cfg.asr_model, compute_type=cfg.asr_compute_type, device=cfg.device)


def register(registry: Registry) -> None:
    """Entry point `mmrag.backends`: the built-in extractors (specific types first), OCR and ASR."""
    registry.add("extractor", "pdf", DocumentConfig, _pdf)
    registry.add("extractor", "docx", DocumentConfig, _docx)
    registry.add("extractor", "html", TextConfig, _html)
    registry.add("extractor", "markdown", TextConfig, _markdown)
    registry.add("extractor", "image", ImageConfig, _image)
    registry.add("extractor", "video", RecordingConfig, _video)
    registry.add("extractor", "audio", RecordingConfig, _audio)
    registry.add("extractor", "text", TextConfig, _text, priority=-100)  # the catch-all goes last
    registry.add("ocr", "rapidocr", RapidOcrConfig, _rapidocr)
    registry.add("asr", "faster-whisper", WhisperConfig, _whisper)


def extractor_for(extractors: Sequence[Extractor], source: Source) -> Extractor:
    """The first extractor that accepts the source.

    Raises:
        UnsupportedTypeError: none does.
    """
    for extractor in extractors:
        if extractor.accepts(source):
            return extractor
    raise UnsupportedTypeError(source.uri, f"unsupported file type {source.mime}")
