"""PDF files (PyMuPDF) -> paragraph segments per page, document segments per page group, and image segments
for embedded pictures. Pages without a text layer (scans) are read with OCR. Every page that has a segment
gets a rendered thumbnail stored once as media `page-N.jpg`, which its segments point at.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Granularity, Locator, Modality, Segment, Source, segment_id
from indexing.extractors.chunking import chunk_spans
from indexing.extractors.text_segments import TextLayout, join_blocks
from indexing.media.images import EMBED_SIDE, shrink, thumbnail, to_rgb

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.protocols import Ocr

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
_CAPTION = re.compile(r"^(fig\.?|figure|table|chart|image|photo|plate|abbildung|tabelle)\s*\d", re.IGNORECASE)
_MAX_OCR_SIDE = 3000  # pixels
_MIN_PAGE_CHARS = 10  # fewer characters than this in the text layer: treat the page as a scan
MAX_PDF_PAGES = 5000
MAX_OCR_PAGES = 100


@dataclass
class PageText:
    """The text of one page as blocks (paragraph-like) with their boxes in page points."""

    blocks: list[str] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    ocr: bool = False


class PdfExtractor:
    """Reads PDFs with PyMuPDF; optional OCR for pages that have no text layer."""

    def __init__(
        self,
        *,
        layout: TextLayout | None = None,
        ocr: Ocr | None = None,
        pages_per_document: int = 4,
        min_image_side: int = 64,
        max_image_pixels: int = 100_000_000,
        page_render_side: int = 768,
        ocr_dpi: int = 150,
        max_pages: int = MAX_PDF_PAGES,
        max_ocr_pages: int = MAX_OCR_PAGES,
    ) -> None:
        """Args:
        layout: chunk size and overlap for paragraph segments.
        ocr: reads scanned pages; None indexes them without text.
        pages_per_document: pages per document segment (a PDF this short is one document segment).
        min_image_side: embedded pictures smaller than this on either side (icons, rules) are skipped.
        max_image_pixels: embedded pictures larger than this are skipped (decompression bombs).
        page_render_side: longest side in pixels of the stored page renders.
        ocr_dpi: resolution at which scanned pages are rendered for OCR.
        max_pages: refuse PDFs with more pages than this (`max_pdf_pages`).
        max_ocr_pages: read at most this many scanned pages per PDF with OCR (about 1.6 s a page on a
            CPU); later scanned pages are indexed without text, with a warning (`max_ocr_pages`).
        """
        self.layout = layout or TextLayout()
        self.ocr = ocr
        self.pages_per_document = max(1, pages_per_document)
        self.min_image_side = min_image_side
        self.max_image_pixels = max_image_pixels
        self.page_render_side = page_render_side
        self.ocr_dpi = ocr_dpi
        self.max_pages = max_pages
        self.max_ocr_pages = max_ocr_pages

    def accepts(self, source: Source) -> bool:
        """PDF files (sniffed from the bytes)."""
        return source.mime == "application/pdf"

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield each page's paragraph and image segments, and a document segment after each page group."""
        doc = open_pdf(path, source.uri, self.max_pages)
        try:
            yield from _PdfRun(self, doc, source).segments()
        finally:
            doc.close()


def open_pdf(path: str, uri: str, max_pages: int = MAX_PDF_PAGES) -> Any:
    """Open a PDF, turning every way it can be unreadable into one clear `ExtractionError`."""
    import pymupdf

    pymupdf.TOOLS.mupdf_display_errors(False)  # MuPDF's own messages would go to stderr, per object
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as e:  # FileDataError, RuntimeError: MuPDF could not make sense of the bytes
        reason = str(e).replace(f"'{path}'", "").replace(path, "the file")  # no server paths in messages
        raise ExtractionError(uri, f"corrupt PDF, cannot be parsed ({' '.join(reason.split())})") from None
    if doc.needs_pass:
        doc.close()
        raise ExtractionError(uri, "encrypted PDF: a password is required to open it")
    try:
        pages = doc.page_count
    except Exception:  # MuPDF refuses a page tree claiming an impossible count ("Invalid number of pages")
        doc.close()
        raise ExtractionError(
            uri, "corrupt PDF: its page tree claims an impossible number of pages"
        ) from None
    if pages == 0:
        doc.close()
        raise ExtractionError(uri, "corrupt or truncated PDF: no pages could be read")
    if pages > max_pages:
        doc.close()
        raise ExtractionError(
            uri, f"PDF has {pages:,} pages, over the limit of {max_pages:,} (max_pdf_pages)"
        )
    return doc


class _PdfRun:
    """The state of one extraction: which page renders were already yielded, the current page group."""

    def __init__(self, cfg: PdfExtractor, doc: Any, source: Source) -> None:
        self.cfg, self.doc, self.source = cfg, doc, source
        self.pages: dict[int, Image] = {}  # page number -> render, until it is yielded
        self.yielded: set[str] = set()
        self.seen_pictures: set[Any] = set()  # digests (or xrefs) of pictures already indexed
        self.base: dict[str, Any] = {"page_count": doc.page_count}
        title = (doc.metadata or {}).get("title", "").strip()
        if title:
            self.base["title"] = title
        if doc.is_repaired:
            self.base["warning"] = "damaged PDF (repaired on reading); some content may be missing"
            logger.warning("%s: damaged PDF, repaired on reading; some content may be missing", source.uri)
        self.n_paragraphs = 0
        self.n_images = 0
        self.n_ocr = 0  # pages read with OCR so far

    def segments(self) -> Iterator[Extracted]:
        group: list[tuple[int, str]] = []  # (page number, page text) of the current page group
        failed = 0
        for index in range(self.doc.page_count):
            number = index + 1
            try:
                page = self.doc.load_page(index)
                text = yield from self._page(page, number)
            except ExtractionError:
                raise
            except Exception as e:  # one bad page must not lose the others
                failed += 1
                logger.warning("%s: page %d could not be read: %s", self.source.uri, number, e)
                text = ""
            group.append((number, text))
            if len(group) == self.cfg.pages_per_document or number == self.doc.page_count:
                yield from self._document(group)
                group = []
        if failed == self.doc.page_count:
            raise ExtractionError(self.source.uri, "corrupt PDF: none of its pages could be read")

    def _page(self, page: Any, number: int) -> Generator[Extracted, None, str]:
        """Yield the segments of one page; return the page's text (for its document segment)."""
        render = self._render(page, self.cfg.page_render_side)
        self.pages[number] = render
        content = page_text(page)
        if _needs_ocr(content) and self.cfg.ocr is not None and not _is_blank(render):
            if self.n_ocr < self.cfg.max_ocr_pages:
                self.n_ocr += 1
                content = self._ocr_page(page)
            elif "ocr_limit" not in self.base:
                note = f"OCR stopped after {self.cfg.max_ocr_pages} scanned pages (max_ocr_pages)"
                self.base["ocr_limit"] = note
                logger.warning("%s: %s; later scanned pages have no text", self.source.uri, note)
        text, spans = join_blocks(content.blocks)
        meta = {**self.base, "ocr": True} if content.ocr else self.base
        for chunk in chunk_spans(text, spans, self.cfg.layout.chunk_chars, self.cfg.layout.chunk_overlap):
            bbox = _union(content.boxes[chunk.first : chunk.last + 1])
            locator = Locator(page=number, bbox=bbox, index=self.n_paragraphs)
            self.n_paragraphs += 1
            segment = self._segment(Granularity.PARAGRAPH, Modality.TEXT, chunk.text, locator, number, meta)
            yield Extracted(segment, media=self._media(number))
        yield from self._images(page, number, content)
        self.pages.pop(number, None)  # a page that yielded nothing keeps no render beyond its group
        return text

    def _images(self, page: Any, number: int, content: PageText) -> Iterator[Extracted]:
        import pymupdf

        page_area = abs(page.rect)
        for info in page.get_image_info(xrefs=True):
            xref, width, height = info["xref"], info["width"], info["height"]
            # xref 0: an inline image (usually tiny decoration). A picture repeated on several pages (a logo,
            # a banner) is indexed once, where it first appears.
            key = info.get("digest") or xref
            if xref == 0 or key in self.seen_pictures or min(width, height) < self.cfg.min_image_side:
                continue
            self.seen_pictures.add(key)
            bbox = pymupdf.Rect(info["bbox"]) & page.rect
            if content.ocr and abs(bbox) > 0.6 * page_area:
                continue  # the scan of a page is not a picture on the page
            if width * height > self.cfg.max_image_pixels:
                logger.warning(
                    "%s: page %d: skipping a %dx%d picture", self.source.uri, number, width, height
                )
                continue
            try:
                picture = to_rgb(pymupdf.Pixmap(self.doc, xref).pil_image())
            except Exception as e:  # an undecodable picture must not lose the page
                logger.warning("%s: page %d: picture %d unreadable: %s", self.source.uri, number, xref, e)
                continue
            yield self._image_segment(picture, number, _box(bbox), _caption(content, bbox))

    def _image_segment(self, picture: Image, number: int, bbox: Box, caption: str) -> Extracted:
        name = f"image-{self.n_images}.jpg"
        locator = Locator(page=number, bbox=bbox, index=self.n_images)
        self.n_images += 1
        meta = {**self.base, "width": picture.width, "height": picture.height}
        if caption:
            meta["caption"] = caption
        segment = self._segment(Granularity.IMAGE, Modality.IMAGE, caption, locator, None, meta)
        segment = dataclasses.replace(segment, media_ref=name)
        return Extracted(segment, images=[shrink(picture, EMBED_SIDE)], media={name: thumbnail(picture)})

    def _document(self, group: list[tuple[int, str]]) -> Iterator[Extracted]:
        text = "\n\n".join(t for _, t in group if t)
        if not text:
            return
        first, last = group[0][0], group[-1][0]
        locator = Locator(page=first, page_end=last)
        segment = self._segment(Granularity.DOCUMENT, Modality.TEXT, text, locator, first, self.base)
        yield Extracted(segment, media=self._media(first))

    def _segment(
        self,
        gran: Granularity,
        modality: Modality,
        text: str,
        loc: Locator,
        page: int | None,
        meta: dict[str, Any],
    ) -> Segment:
        return Segment(
            segment_id=segment_id(self.source.source_id, gran, loc),
            source_id=self.source.source_id,
            uri=self.source.uri,
            modality=modality,
            granularity=gran,
            text=text,
            locator=loc,
            media_ref=f"page-{page}.jpg" if page is not None else None,
            metadata=dict(meta),
        )

    def _media(self, number: int) -> dict[str, Image]:
        """The page render, the first time a segment of that page is yielded (rendered again if dropped)."""
        name = f"page-{number}.jpg"
        if name in self.yielded:
            return {}
        self.yielded.add(name)
        render = self.pages.get(number)
        if render is None:
            render = self._render(self.doc.load_page(number - 1), self.cfg.page_render_side)
        return {name: render}

    def _render(self, page: Any, side: int) -> Image:
        scale = side / max(page.rect.width, page.rect.height)
        return _pixmap_image(page, scale)

    def _ocr_page(self, page: Any) -> PageText:
        """Read a scanned page: OCR lines grouped into paragraphs by vertical gaps, boxes in page points."""
        assert self.cfg.ocr is not None
        # A poster-sized page at full resolution would need gigabytes: cap the render's longest side.
        scale = min(self.cfg.ocr_dpi / 72, _MAX_OCR_SIDE / max(page.rect.width, page.rect.height))
        try:
            lines = self.cfg.ocr.read_lines(_pixmap_image(page, scale))
        except Exception as e:  # OCR engine failure: index the page without text
            logger.warning("%s: OCR failed on page %d: %s", self.source.uri, page.number + 1, e)
            return PageText(ocr=True)
        content = PageText(ocr=True)
        if not lines:
            return content
        height = sorted(b.bbox[3] - b.bbox[1] for b in lines)[len(lines) // 2]
        prev_bottom = None
        for line in lines:
            x0, y0, x1, y1 = (v / scale for v in line.bbox)
            box = (x0, y0, x1, y1)
            if prev_bottom is not None and line.bbox[1] - prev_bottom <= 0.8 * height:
                content.blocks[-1] += " " + line.text
                content.boxes[-1] = _union([content.boxes[-1], box]) or box
            else:
                content.blocks.append(line.text)
                content.boxes.append(box)
            prev_bottom = line.bbox[3]
        return content


def page_text(page: Any) -> PageText:
    """The text blocks of a page in content order, whitespace collapsed, hyphenation at line ends undone.

    Some PDFs place every line as its own block; consecutive lines of the same size that follow each other
    closely are joined back into one paragraph.
    """
    import pymupdf

    content = PageText()
    last_line_height = 0.0
    flags = pymupdf.TEXTFLAGS_BLOCKS | pymupdf.TEXT_DEHYPHENATE
    for x0, y0, x1, y1, raw, _, kind in page.get_text("blocks", flags=flags):
        text = " ".join(raw.split())
        if kind != 0 or not text:
            continue
        line_height = (y1 - y0) / max(1, raw.strip().count("\n") + 1)
        if content.boxes and _continues(content.boxes[-1], (x0, y0, x1, y1), last_line_height, line_height):
            content.blocks[-1] += " " + text
            content.boxes[-1] = _union([content.boxes[-1], (x0, y0, x1, y1)]) or (x0, y0, x1, y1)
        else:
            content.blocks.append(text)
            content.boxes.append((x0, y0, x1, y1))
        last_line_height = line_height
    return content


def _continues(prev: Box, box: Box, prev_line: float, line: float) -> bool:
    """True when `box` reads as the next line of `prev`: just below it, overlapping, same line height."""
    gap = box[1] - prev[3]
    same_size = abs(prev_line - line) <= 0.2 * max(prev_line, line)
    overlaps = box[0] < prev[2] and box[2] > prev[0]
    return same_size and overlaps and -0.1 * line <= gap <= 0.6 * line


def _needs_ocr(content: PageText) -> bool:
    """No usable text layer: (almost) no characters, or mostly unmapped glyphs (fonts without a Unicode map
    come out as U+FFFD or private-use characters)."""
    chars = "".join(content.blocks)
    if len(chars) < _MIN_PAGE_CHARS:
        return True
    unmapped = sum(1 for c in chars if c == "\ufffd" or "\ue000" <= c <= "\uf8ff")
    return unmapped > 0.3 * len(chars)


def _pixmap_image(page: Any, scale: float) -> Image:
    import pymupdf
    from PIL import Image as PILImage

    pix = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)
    return PILImage.frombytes("RGB", (pix.width, pix.height), pix.samples)


def _is_blank(render: Image) -> bool:
    """True when a page render is (nearly) white everywhere: nothing to OCR."""
    low, _ = render.convert("L").getextrema()
    return bool(float(low) > 235)  # type: ignore[arg-type]


def _caption(content: PageText, bbox: Any) -> str:
    """A figure caption near a picture: a "Figure n" line just above or below it, else a short line below."""
    near: list[tuple[float, bool, str]] = []  # (gap, below the picture, text)
    for text, (x0, y0, x1, y1) in zip(content.blocks, content.boxes, strict=True):
        overlaps = x0 < bbox.x1 and x1 > bbox.x0
        below = y0 >= bbox.y1 - 2
        gap = y0 - bbox.y1 if below else bbox.y0 - y1
        if overlaps and -2 <= gap <= 40:
            near.append((gap, below, text))
    near.sort()
    labelled = [t for _, _, t in near if _CAPTION.match(t)]
    if labelled:
        return labelled[0][:500]
    return next((t for gap, below, t in near if below and gap <= 20 and len(t) <= 200), "")


def _union(boxes: list[Box]) -> Box | None:
    if not boxes:
        return None
    return _box(
        (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
    )


def _box(rect: Any) -> Box:
    x0, y0, x1, y1 = (round(float(v), 1) for v in rect)
    return (x0, y0, x1, y1)
