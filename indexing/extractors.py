"""The extractor registry: the extractors built from settings, and the choice of one for a source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from core.errors import UnsupportedTypeError
from core.protocols import Extractor
from core.types import Source
from indexing.docx_extractor import DocxExtractor
from indexing.html_extractor import HtmlExtractor
from indexing.image_extractor import ImageExtractor
from indexing.markdown_extractor import MarkdownExtractor
from indexing.media_extractors import build_media_extractors
from indexing.pdf_extractor import PdfExtractor
from indexing.text_extractor import TextExtractor
from indexing.text_segments import TextLayout

if TYPE_CHECKING:
    from core.settings import Settings
    from indexing.rapidocr_ocr import RapidOcr


def build_extractors(settings: Settings, ocr: RapidOcr | None = None) -> list[Extractor]:
    """The document and image extractors, configured from settings.

    Args:
        settings: chunk sizes, the pixel limit; `settings.ocr` False disables OCR even when `ocr` is given.
        ocr: the shared OCR engine (load it once per process), or None for no OCR.

    Returns:
        Extractors in the order they are tried: specific types before the catch-all text extractor.
    """
    ocr = ocr if settings.ocr else None
    layout = TextLayout(chunk_chars=settings.chunk_chars, chunk_overlap=settings.chunk_overlap)
    pixels = settings.max_image_pixels
    chars = settings.max_text_chars
    return [
        PdfExtractor(
            layout=layout,
            ocr=ocr,
            max_image_pixels=pixels,
            max_pages=settings.max_pdf_pages,
            max_ocr_pages=settings.max_ocr_pages,
        ),
        DocxExtractor(
            layout=layout,
            max_image_pixels=pixels,
            max_archive_mb=settings.max_archive_mb,
            max_archive_ratio=settings.max_archive_ratio,
        ),
        HtmlExtractor(layout=layout, max_chars=chars),
        MarkdownExtractor(layout=layout, max_chars=chars),
        ImageExtractor(ocr=ocr, max_image_pixels=pixels, max_frames=settings.max_image_frames),
        *build_media_extractors(settings, ocr),
        TextExtractor(layout=layout, max_chars=chars),
    ]


def extractor_for(extractors: Sequence[Extractor], source: Source) -> Extractor:
    """The first extractor that accepts the source.

    Raises:
        UnsupportedTypeError: none does.
    """
    for extractor in extractors:
        if extractor.accepts(source):
            return extractor
    raise UnsupportedTypeError(source.uri, f"unsupported file type {source.mime}")
