"""Every document and image extractor on real files: the docling PDFs, COCO photos, and DOCX/HTML/Markdown/text
files made here from known text. OCR runs the real RapidOCR models (loaded once per test process)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from app.builders import build_extractors
from core.protocols import Extracted
from core.settings import Settings
from core.types import Granularity, Modality
from indexing.extractors.backends import extractor_for
from indexing.extractors.docx_extractor import DocxExtractor
from indexing.extractors.html_extractor import HtmlExtractor
from indexing.extractors.image_extractor import ImageExtractor
from indexing.extractors.markdown_extractor import MarkdownExtractor
from indexing.extractors.pdf_extractor import PdfExtractor
from indexing.extractors.rapidocr_ocr import RapidOcr
from indexing.extractors.text_extractor import TextExtractor
from indexing.sources import load_source
from tests.fixtures.documents import (
    COCO_DIR,
    OCR_WORDS,
    PDF_DIR,
    SCAN_WORDS,
    scanned_pdf,
    shared_ocr,
    text_picture,
)

pytestmark = pytest.mark.integration

PDFS = sorted(PDF_DIR.glob("*.pdf"))
COCO = sorted(COCO_DIR.glob("*.jpg"))


@pytest.fixture(scope="module")
def ocr() -> RapidOcr:
    return shared_ocr()


@pytest.fixture(scope="module")
def extractors(ocr: RapidOcr) -> list:
    return build_extractors(Settings(chunk_chars=1000, chunk_overlap=150), ocr)


def run(extractors: list, path: Path) -> list[Extracted]:
    source = load_source(path)
    return list(extractor_for(extractors, source).extract(source, str(path)))


def by_granularity(items: list[Extracted], granularity: Granularity) -> list[Extracted]:
    return [i for i in items if i.segment.granularity == granularity]


def check_media_contract(items: list[Extracted]) -> None:
    """Each media name is yielded once, before or with the first segment that points at it."""
    names = [name for item in items for name in item.media]
    assert len(names) == len(set(names)), Counter(names).most_common(3)
    seen: set[str] = set()
    for item in items:
        seen.update(item.media)
        if item.segment.media_ref is not None:
            assert item.segment.media_ref in seen, item.segment.media_ref
    for item in items:
        for picture in item.media.values():
            assert picture.mode == "RGB" and max(picture.size) <= 768


@pytest.mark.parametrize("path", PDFS, ids=[p.name for p in PDFS])
def test_pdf_paragraphs_carry_pages_and_ids(extractors: list, path: Path) -> None:
    import pymupdf

    with pymupdf.open(path) as doc:
        pages = doc.page_count
    source = load_source(path)
    items = run(extractors, path)
    paragraphs = by_granularity(items, Granularity.PARAGRAPH)
    assert paragraphs, "every sample PDF has text"
    for item in paragraphs:
        seg = item.segment
        assert seg.modality == Modality.TEXT and seg.uri == source.uri and seg.source_id == source.source_id
        assert 1 <= seg.locator.page <= pages and seg.text.strip()
        assert seg.media_ref == f"page-{seg.locator.page}.jpg"
        assert len(seg.text) <= 1000
    ids = [i.segment.segment_id for i in items]
    assert len(ids) == len(set(ids))
    assert ids == [i.segment.segment_id for i in run(extractors, path)], "ids are deterministic"
    check_media_contract(items)


def test_pdf_known_text_on_its_page(extractors: list) -> None:
    items = run(extractors, PDF_DIR / "2305.03393v1-pg9.pdf")
    hits = [i.segment for i in by_granularity(items, Granularity.PARAGRAPH) if "PubTabNet" in i.segment.text]
    assert hits and all(s.locator.page == 1 for s in hits)
    assert any("Hyper Parameter Optimization" in s.text for s in hits + [i.segment for i in items])


def test_multi_page_pdf_has_page_group_documents(extractors: list) -> None:
    items = run(extractors, PDF_DIR / "multi_page.pdf")
    docs = [i.segment for i in by_granularity(items, Granularity.DOCUMENT)]
    assert [(d.locator.page, d.locator.page_end) for d in docs] == [(1, 4), (5, 5)]
    assert "The Evolution of the Word Processor" in docs[0].text
    paragraphs = by_granularity(items, Granularity.PARAGRAPH)
    assert {p.segment.locator.page for p in paragraphs} == {1, 2, 3, 4, 5}
    # Every paragraph's words are inside the document segment covering its page.
    for p in paragraphs:
        doc = next(d for d in docs if d.locator.page <= p.segment.locator.page <= d.locator.page_end)
        assert p.segment.text.split("\n\n")[0] in doc.text

    redbook = by_granularity(run(extractors, PDF_DIR / "redp5110_sampled.pdf"), Granularity.DOCUMENT)
    assert [(d.segment.locator.page, d.segment.locator.page_end) for d in redbook][:2] == [(1, 4), (5, 8)]


def test_pdf_embedded_images_are_image_segments(extractors: list) -> None:
    items = run(extractors, PDF_DIR / "redp5110_sampled.pdf")
    images = by_granularity(items, Granularity.IMAGE)
    assert len(images) >= 10
    pages = {i.segment.locator.page for i in images}
    assert {1, 4, 14, 15, 18} <= pages
    for item in images:
        seg = item.segment
        assert seg.modality == Modality.IMAGE and seg.locator.bbox is not None
        x0, y0, x1, y1 = seg.locator.bbox
        assert 0 <= x0 < x1 <= 612 and 0 <= y0 < y1 <= 792
        assert len(item.images) == 1 and item.images[0].mode == "RGB" and min(item.images[0].size) >= 32
        assert seg.media_ref in item.media
    # The banner repeated on every page of the Korean report (650 x 79) is indexed once, on page 1.
    korean = by_granularity(run(extractors, PDF_DIR / "normal_4pages.pdf"), Granularity.IMAGE)
    banners = [i for i in korean if i.images[0].size == (650, 79)]
    assert len(banners) == 1 and banners[0].segment.locator.page == 1
    assert len(korean) == 3


def test_right_to_left_pdf_keeps_arabic_text(extractors: list) -> None:
    items = run(extractors, PDF_DIR / "right_to_left_01.pdf")
    text = " ".join(i.segment.text for i in by_granularity(items, Granularity.PARAGRAPH))
    assert "البرمجة" in text and "Python" in text and "pandas" in text
    korean = run(extractors, PDF_DIR / "normal_4pages.pdf")
    assert korean[0].segment.metadata["title"].startswith("코로나-19")


def test_scanned_pdf_page_is_read_with_ocr(extractors: list, tmp_path: Path) -> None:
    path = scanned_pdf(tmp_path / "scan.pdf")
    items = run(extractors, path)
    paragraphs = by_granularity(items, Granularity.PARAGRAPH)
    assert paragraphs and paragraphs[0].segment.metadata["ocr"] is True
    assert SCAN_WORDS in " ".join(p.segment.text for p in paragraphs)
    x0, y0, x1, y1 = paragraphs[0].segment.locator.bbox
    assert 5 <= x0 < x1 <= 300 and 55 <= y0 < y1 <= 160, "OCR boxes are mapped back to page points"
    # Without OCR the same page yields no paragraph (and no crash).
    plain = list(PdfExtractor(ocr=None).extract(load_source(path), str(path)))
    assert not by_granularity(plain, Granularity.PARAGRAPH)


def test_ocr_reads_rendered_words(ocr: RapidOcr) -> None:
    assert ocr.read(text_picture()) == OCR_WORDS
    lines = ocr.read_lines(text_picture("FIRST LINE", size=(800, 740)))
    assert [line.text for line in lines] == ["FIRST LINE"] and lines[0].score > 0.8
    assert ocr.read(Image.new("RGB", (800, 740), "white")) == ""


@pytest.mark.parametrize("path", COCO[:3], ids=[p.name for p in COCO[:3]])
def test_coco_photo_is_one_image_segment(path: Path) -> None:
    items = run(build_extractors(Settings(ocr=False)), path)
    assert len(items) == 1
    item = items[0]
    seg = item.segment
    assert seg.modality == Modality.IMAGE and seg.granularity == Granularity.IMAGE
    with Image.open(path) as original:
        assert (seg.metadata["width"], seg.metadata["height"]) == original.size
    assert seg.metadata["format"] == "JPEG"
    assert item.images[0].mode == "RGB" and item.images[0].size == original.size
    assert seg.media_ref == "thumb.jpg" and max(item.media["thumb.jpg"].size) == 512


def test_coco_photo_sign_is_read_by_ocr(extractors: list) -> None:
    """000000000790.jpg shows a museum sign; its words end up in the segment text."""
    item = run(extractors, COCO_DIR / "000000000790.jpg")[0]
    assert "BRANDYWINE" in item.segment.text.upper().replace(" ", "")


def test_picture_of_words_gets_ocr_text(extractors: list, tmp_path: Path) -> None:
    path = tmp_path / "words.png"
    text_picture().save(path)
    assert run(extractors, path)[0].segment.text == OCR_WORDS


def test_exif_fields_and_orientation(tmp_path: Path) -> None:
    photo = Image.open(COCO[0]).convert("RGB")
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Canon", "EOS 5D", 6  # 6: rotate 90 degrees clockwise
    exif.get_ifd(0x8769)[0x9003] = "2021:05:01 12:34:56"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "W", (13.0, 24.0, 36.0)
    path = tmp_path / "photo.jpg"
    photo.save(path, exif=exif)
    item = list(ImageExtractor().extract(load_source(path), str(path)))[0]
    meta = item.segment.metadata
    assert meta["camera"] == "Canon EOS 5D" and meta["taken_at"] == "2021-05-01T12:34:56"
    assert meta["orientation"] == 6
    assert meta["gps_lat"] == pytest.approx(52.52) and meta["gps_lon"] == pytest.approx(-13.41)
    assert (meta["width"], meta["height"]) == (photo.height, photo.width), "orientation applied"
    assert item.images[0].size == (photo.height, photo.width)
    assert item.segment.text == "", "no OCR engine given"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF", "GIF"])
def test_other_picture_formats(tmp_path: Path, fmt: str) -> None:
    photo = Image.open(COCO[1]).convert("RGB")
    path = tmp_path / f"photo.{fmt.lower()}"
    if fmt == "GIF":  # two frames: only the first is indexed
        photo.save(path, save_all=True, append_images=[photo.rotate(90)])
    else:
        photo.save(path, format=fmt)
    source = load_source(path)
    assert source.mime == f"image/{fmt.lower()}"
    item = list(ImageExtractor().extract(source, str(path)))[0]
    assert item.images[0].size == photo.size and item.segment.metadata["format"] == fmt
    if fmt == "GIF":
        assert item.segment.metadata["frames"] == 2


PARAGRAPHS = [
    "Solar panels convert sunlight into electricity using photovoltaic cells made of silicon.",
    "Wind turbines turn the kinetic energy of moving air into power through a rotating generator.",
    "Hydroelectric dams store water in reservoirs and release it through turbines when demand rises.",
]


def test_docx_from_known_text(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Renewable energy notes"
    document.add_heading("Renewable energy", level=1)
    for text in PARAGRAPHS:
        document.add_paragraph(text)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Source", "Share"
    table.cell(1, 0).text, table.cell(1, 1).text = "Solar", "12 percent"
    document.add_picture(str(COCO[2]))
    path = tmp_path / "notes.docx"
    document.save(path)
    source = load_source(path)
    items = list(DocxExtractor().extract(source, str(path)))
    paragraphs = by_granularity(items, Granularity.PARAGRAPH)
    text = "\n".join(i.segment.text for i in paragraphs)
    assert all(p in text for p in PARAGRAPHS) and "Solar | 12 percent" in text
    assert paragraphs[0].segment.metadata["title"] == "Renewable energy notes"
    assert paragraphs[0].segment.metadata["section"] == "Renewable energy"
    assert len(by_granularity(items, Granularity.DOCUMENT)) == 1
    images = by_granularity(items, Granularity.IMAGE)
    assert len(images) == 1 and images[0].images[0].size == Image.open(COCO[2]).size


def test_html_drops_scripts_and_navigation(tmp_path: Path) -> None:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    html = (
        "<!DOCTYPE html><html><head><title>Energy page</title><style>p {color: red}</style>"
        "<script>var secret = 'tracking';</script></head><body><nav><a href='/'>Home menu</a></nav>"
        f"<h1>Renewable energy</h1>{body}<ul><li>first item</li><li>second item</li></ul></body></html>"
    )
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    items = list(HtmlExtractor().extract(load_source(path), str(path)))
    text = "\n".join(i.segment.text for i in by_granularity(items, Granularity.PARAGRAPH))
    assert all(p in text for p in PARAGRAPHS) and "first item" in text
    assert "secret" not in text and "Home menu" not in text and "color" not in text
    assert items[0].segment.metadata["title"] == "Energy page"
    assert items[0].segment.metadata["section"] == "Renewable energy"


def test_markdown_strips_markup(tmp_path: Path) -> None:
    text = "# Energy\n\nSome **bold** words and a [link](http://example.com).\n\n## Solar\n\n" + PARAGRAPHS[0]
    path = tmp_path / "notes.md"
    path.write_text(text, encoding="utf-8")
    source = load_source(path)
    assert source.mime == "text/markdown"
    items = list(MarkdownExtractor().extract(source, str(path)))
    paragraphs = [i.segment for i in by_granularity(items, Granularity.PARAGRAPH)]
    assert paragraphs[0].text == "Energy\n\nSome bold words and a link."
    assert paragraphs[-1].metadata["section"] == "Solar" and PARAGRAPHS[0] in paragraphs[-1].text
    assert paragraphs[0].metadata["title"] == "Energy"


def test_text_chunks_keep_offsets_and_paragraphs(tmp_path: Path) -> None:
    long = " ".join(f"Sentence {i} talks about batteries and storage." for i in range(60))
    text = "\n\n".join([*PARAGRAPHS, long, "Final short paragraph."])
    path = tmp_path / "notes.txt"
    path.write_text(text, encoding="utf-8")
    items = list(TextExtractor().extract(load_source(path), str(path)))
    paragraphs = [i.segment for i in by_granularity(items, Granularity.PARAGRAPH)]
    for seg in paragraphs:
        assert text[seg.metadata["char_start"] : seg.metadata["char_end"]] == seg.text
        assert len(seg.text) <= 1000 and seg.metadata["encoding"] == "utf-8"
    assert paragraphs[0].text == "\n\n".join(PARAGRAPHS), "short paragraphs are merged"
    assert len(paragraphs) >= 4, "the long paragraph is split"
    assert paragraphs[-1].text.endswith("Final short paragraph.")
    documents = by_granularity(items, Granularity.DOCUMENT)
    assert len(documents) == 1 and documents[0].segment.text == text


def test_build_extractors_routes_by_sniffed_type(tmp_path: Path, ocr: RapidOcr) -> None:
    no_ocr = build_extractors(Settings(ocr=False), ocr)
    png = tmp_path / "words.png"
    text_picture().save(png)
    image_extractor = extractor_for(no_ocr, load_source(png))
    assert isinstance(image_extractor, ImageExtractor) and image_extractor.ocr is None
    assert isinstance(extractor_for(no_ocr, load_source(PDFS[0])), PdfExtractor)
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    assert isinstance(extractor_for(no_ocr, load_source(csv)), TextExtractor)


def test_unusable_text_layer_counts_as_a_scan() -> None:
    """Fonts without a Unicode map extract as U+FFFD or private-use characters: such pages go to OCR."""
    from indexing.extractors.pdf_extractor import PageText, _needs_ocr

    assert _needs_ocr(PageText(blocks=["\ufffd" * 40 + " ab"]))
    assert _needs_ocr(PageText(blocks=["\ue012\ue013" * 30]))
    assert _needs_ocr(PageText(blocks=["p. 3"]))
    assert not _needs_ocr(PageText(blocks=["A normal page of text with a \ufffd glitch."]))
