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
from indexing.extractors.text_segments import Block, TextLayout, require_text, text_segments
from indexing.media.images import thumbnail
from indexing.sources import DOCX_MIME

logger = logging.getLogger(__name__)

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MAX_ARCHIVE_MB = 256
MAX_ARCHIVE_RATIO = 100
MAX_ARCHIVE_MEMBERS = 10_000
_RATIO_FLOOR = 1 << 20  # small parts may compress very well (repetitive XML) without being a bomb
_CHUNK = 1 << 20


class DocxExtractor:
    """Reads DOCX files with python-docx."""

    def __init__(
        self,
        *,
        layout: TextLayout | None = None,
        min_image_side: int = 64,
        max_image_pixels: int = 100_000_000,
        max_archive_mb: int = MAX_ARCHIVE_MB,
        max_archive_ratio: int = MAX_ARCHIVE_RATIO,
    ) -> None:
        """Args:
        layout: chunk and document sizes.
        min_image_side: embedded pictures smaller than this (icons, bullets) are not indexed.
        max_image_pixels: embedded pictures larger than this are skipped (decompression bombs).
        max_archive_mb: refuse files whose zip members inflate to more than this many MiB in all.
        max_archive_ratio: refuse files with a member that inflates more than this many times its stored
            size (past 1 MiB): the shape of a zip bomb, not of a document.
        """
        self.layout = layout or TextLayout()
        self.min_image_side = min_image_side
        self.max_image_pixels = max_image_pixels
        self.max_archive_mb = max_archive_mb
        self.max_archive_ratio = max_archive_ratio

    def accepts(self, source: Source) -> bool:
        """DOCX files (sniffed from the zip's content, not the name)."""
        return source.mime == DOCX_MIME

    def extract(self, source: Source, path: str) -> Iterator[Extracted]:
        """Yield paragraph and document segments, then one image segment per embedded picture."""
        check_archive(path, source.uri, self.max_archive_mb, self.max_archive_ratio)
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


def check_archive(path: str, uri: str, max_mb: int, max_ratio: int) -> None:
    """Refuse a zip bomb before any part is parsed: too many members, too much inflated data in all, or a
    member that inflates far beyond its stored size. Sizes are counted while inflating, in chunks (the
    sizes a zip declares may lie), so memory stays at one chunk whatever the file claims.

    Raises:
        ExtractionError: the archive is over a limit (naming the setting) or not a readable zip.
    """
    limit = max_mb * 1024 * 1024
    total = 0
    try:
        with zipfile.ZipFile(path) as z:
            members = z.infolist()
            if len(members) > MAX_ARCHIVE_MEMBERS:
                raise ExtractionError(
                    uri, f"archive holds {len(members):,} parts, over {MAX_ARCHIVE_MEMBERS:,}"
                )
            for info in members:
                stored = max(info.compress_size, 1)
                cap = max(_RATIO_FLOOR, max_ratio * stored)
                size = 0
                with z.open(info) as member:
                    while chunk := member.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > cap:
                            raise ExtractionError(
                                uri,
                                f"archive part {info.filename} inflates over {max_ratio}x its stored size "
                                f"(a zip bomb?); limit max_archive_ratio",
                            )
                        if total > limit:
                            raise ExtractionError(
                                uri,
                                f"archive inflates to more than {max_mb} MiB (max_archive_mb); not indexed",
                            )
    except ExtractionError:
        raise
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, RuntimeError) as e:
        reason = " ".join(str(e).split())[:200] or type(e).__name__
        raise ExtractionError(uri, f"corrupt DOCX file: {reason}") from None
    except Exception as e:  # zlib.error, NotImplementedError (compression method) and the like
        raise ExtractionError(uri, f"corrupt DOCX file: {type(e).__name__}: {e}"[:300]) from None


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
