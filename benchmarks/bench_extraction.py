"""Extraction benchmark: segments per sample PDF (and seconds), RapidOCR seconds per picture.

1. Every PDF in ../shared/data/pdf through `PdfExtractor` (no OCR needed: they have text layers): segment
   counts per granularity, stored media, seconds.
2. RapidOCR (bundled PP-OCRv4 ONNX models, CPU) on COCO photos, on a picture of rendered words, and on a
   scanned letter-size page (a PDF page holding only a picture of text, rendered at 150 dpi).
The load average is recorded because the OCR timings scale with how busy the cores are.

Usage: python -m benchmarks.bench_extraction [--photos 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.common import DATA, write_result

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pdf_counts(extractors: list) -> dict[str, Any]:
    from indexing.extractors.backends import extractor_for
    from indexing.sources import load_source

    out: dict[str, Any] = {}
    for path in sorted((DATA / "pdf").glob("*.pdf")):
        source = load_source(path)
        started = time.perf_counter()
        items = list(extractor_for(extractors, source).extract(source, str(path)))
        counts = Counter(i.segment.granularity.value for i in items)
        out[path.name] = {
            **dict(sorted(counts.items())),
            "media": sum(len(i.media) for i in items),
            "seconds": round(time.perf_counter() - started, 3),
        }
    return out


def ocr_timings(photos: int) -> dict[str, Any]:
    from PIL import Image

    from indexing.extractors.rapidocr_ocr import RapidOcr
    from tests.fixtures.documents import OCR_WORDS, scanned_pdf, text_picture

    ocr = RapidOcr()
    started = time.perf_counter()
    ocr.warm_up()
    load_s = time.perf_counter() - started
    times, with_text = [], 0
    for path in sorted((DATA / "coco-mini-train" / "images").glob("*.jpg"))[:photos]:
        with Image.open(path) as im:
            picture = im.convert("RGB")
        started = time.perf_counter()
        with_text += bool(ocr.read(picture))
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    words_ok = ocr.read(text_picture()) == OCR_WORDS
    words_s = time.perf_counter() - started
    return {
        "load_s": round(load_s, 2),
        "coco_photos": len(times),
        "coco_with_text": with_text,
        "coco_median_s": round(statistics.median(times), 3),
        "coco_p95_s": round(sorted(times)[int(0.95 * (len(times) - 1))], 3),
        "coco_max_s": round(max(times), 3),
        "words_800x740_s": round(words_s, 3),
        "words_read_back": words_ok,
        "scanned_letter_page_s": round(_scanned_page_seconds(ocr, scanned_pdf), 3),
    }


def _scanned_page_seconds(ocr: Any, scanned_pdf: Any) -> float:
    import pymupdf

    from indexing.extractors.pdf_extractor import PdfExtractor
    from indexing.sources import load_source

    with tempfile.TemporaryDirectory() as tmp:
        small = scanned_pdf(Path(tmp) / "small.pdf")
        letter = Path(tmp) / "letter.pdf"
        with pymupdf.open(small) as doc, pymupdf.open() as out:
            page = out.new_page(width=612, height=792)
            page.show_pdf_page(page.rect, doc, 0)  # the same scan, on a letter-size page
            out.save(letter)
        started = time.perf_counter()
        list(PdfExtractor(ocr=ocr).extract(load_source(letter), str(letter)))
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=20)
    args = parser.parse_args()
    from app.builders import build_extractors
    from core.settings import Settings

    load_before = os.getloadavg()[0]
    result = {
        "pdf_segments": pdf_counts(build_extractors(Settings(ocr=False))),
        "ocr": ocr_timings(args.photos),
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    write_result("extraction", result)


if __name__ == "__main__":
    main()
