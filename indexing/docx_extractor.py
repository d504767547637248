"""Word (DOCX) files -> paragraph and document segments (body paragraphs and tables in order), plus the
pictures embedded in the document as image segments."""

from __future__ import annotations

import io
import itertools
import logging
import zipfile
from collections.abc import Iterator
from typing import Any

from core.errors import ExtractionError
from core.protocols import Extracted
from core.types import Granularity, Locator, Modality, Segment, Source, segment_id
from indexing.images import thumbnail
from indexing.sources import DOCX_MIME
from indexing.text_segments import Block, TextLayout, require_text, text_segments

logger = logging.getLogger(__name__)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


class DocxExtractor:
    """Reads DOCX files with python-docx."""

    def __init__(
        self,
        *,
        layout: TextLayout | None = None,
        min_image_side: int = 64,
        max_image_pixels: int = 100_000_000,
    ) -> None:
        """Args:
        layout: chunk and document sizes.
        min_image_side: embedded pictures smaller than this (icons, bullets) are not indexed.
        max_image_pixels: embedded pictures larger than this are skipped (decompression bombs).
        """
        self.layout = layout or TextLayout()
        self.min_image_side = min_image_side
        self.max_image_pixels = max_image_pixels

    def accepts(self, source: Source) -> bool:
        """DOCX files (sniffed from the zip's content, not the name)."""
        return source.mime == DOCX_MIME

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph and document segments, then one image segment per embedded picture."""
        document = _open(path, source.uri)
        title = (document.core_properties.title or "").strip() or None
        blocks = list(_blocks(document))
        if title is None:
            title = next((b.text for b in blocks if b.heading), None)
        meta = {"title": title} if title else {}
        yield from require_text(
            itertools.chain(
                text_segments(source, blocks, self.layout, meta), self._images(source, document, meta)
            ),
            source.uri,
        )

    def _images(self, source: Source, document: Any, meta: dict[str, Any]) -> Iterator[Extracted]:
        from PIL import Image

        parts = [rel.target_part for rel in document.part.rels.values() if "image" in rel.reltype]
        n = 0
        for part in sorted(parts, key=lambda p: str(p.partname)):
            try:
                with Image.open(io.BytesIO(part.blob)) as im:
                    if min(im.size) < self.min_image_side or im.width * im.height > self.max_image_pixels:
                        continue
                    picture = im.convert("RGB")
            except Exception as e:  # a broken picture must not lose the document's text
                logger.warning("%s: skipping embedded picture %s: %s", source.uri, part.partname, e)
                continue
            locator = Locator(index=n)
            name = f"image-{n}.jpg"
            segment = Segment(
                segment_id=segment_id(source.source_id, Granularity.IMAGE, locator),
                source_id=source.source_id,
                uri=source.uri,
                modality=Modality.IMAGE,
                granularity=Granularity.IMAGE,
                locator=locator,
                media_ref=name,
                metadata={**meta, "width": picture.width, "height": picture.height},
            )
            yield Extracted(segment, images=[picture], media={name: thumbnail(picture)})
            n += 1


def _open(path: str, uri: str) -> Any:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        return docx.Document(path)
    except OSError as e:
        raise ExtractionError(uri, f"cannot read the DOCX file: {e}") from None
    except (PackageNotFoundError, zipfile.BadZipFile, Exception) as e:  # python-docx fails in many ways
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise ExtractionError(uri, f"corrupt DOCX file: {reason}") from None


def _blocks(document: Any) -> Iterator[Block]:
    """Body paragraphs and table rows in document order; Title and Heading styles mark headings."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in document.element.body.iterchildren():
        if child.tag == f"{_W}p":
            paragraph = Paragraph(child, document)
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            yield Block(paragraph.text, style.startswith(("Heading", "Title")))
        elif child.tag == f"{_W}tbl":
            for row in Table(child, document).rows:
                cells = [c.text.strip() for c in row.cells]
                # Merged cells repeat their text in python-docx; keep each run of equal cells once.
                unique = [c for i, c in enumerate(cells) if c and (i == 0 or c != cells[i - 1])]
                yield Block(" | ".join(unique))
