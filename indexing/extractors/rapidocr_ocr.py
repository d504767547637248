"""OCR with RapidOCR (PP-OCR models as ONNX, bundled in the `rapidocr-onnxruntime` wheel: works offline)."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import ModelUnavailableError

if TYPE_CHECKING:
    from PIL.Image import Image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OcrLine:
    """One line of recognised text and its box (x0, y0, x1, y1) in image pixels."""

    text: str
    bbox: tuple[float, float, float, float]
    score: float


class RapidOcr:
    """Reads text from pictures. The ONNX models load on first use, once, and are shared by threads."""

    def __init__(self, *, min_score: float = 0.5, max_side: int = 2048) -> None:
        """Args:
        min_score: drop recognised boxes below this confidence.
        max_side: pictures are shrunk so their longest side is at most this many pixels first.
        """
        self.min_score = min_score
        self.max_side = max_side
        self._engine: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the models now instead of on the first picture."""
        with self._lock:
            self._load()

    def describe(self) -> dict[str, str]:
        """RapidOCR's ONNX models run on the CPU through onnxruntime (for `mmrag doctor`)."""
        return {"model": "rapidocr", "device": "cpu (onnxruntime)"}

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError as e:  # the package (or onnxruntime) is missing
                raise ModelUnavailableError(f"OCR unavailable: {e}") from e
            started = time.perf_counter()
            self._engine = RapidOCR()
            logger.info("RapidOCR loaded in %.2f s", time.perf_counter() - started)
        return self._engine

    def read(self, image: Image) -> str:
        """Return the text in a picture, one line per text line, in reading order ("" when none)."""
        return "\n".join(line.text for line in self.read_lines(image))

    def read_lines(self, image: Image) -> list[OcrLine]:
        """Return the text lines of a picture in reading order (top to bottom, then left to right)."""
        import numpy as np

        scale = min(1.0, self.max_side / max(image.size))
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
        pixels = np.asarray(image.convert("RGB"))
        with self._lock:  # one onnxruntime session; calls from several threads are serialised
            result, _ = self._load()(pixels)
        boxes = [_to_line(item, 1.0 / scale) for item in result or [] if float(item[2]) >= self.min_score]
        return _reading_order([b for b in boxes if b.text.strip()])


def _to_line(item: Any, scale: float) -> OcrLine:
    points, text, score = item
    xs = [p[0] * scale for p in points]
    ys = [p[1] * scale for p in points]
    return OcrLine(str(text).strip(), (min(xs), min(ys), max(xs), max(ys)), float(score))


def _reading_order(boxes: list[OcrLine]) -> list[OcrLine]:
    """Merge word boxes into lines (vertical centres within half a line height) and sort them."""
    if not boxes:
        return []
    height = statistics.median(b.bbox[3] - b.bbox[1] for b in boxes)
    rows: list[list[OcrLine]] = []
    for box in sorted(boxes, key=lambda b: (b.bbox[1] + b.bbox[3]) / 2):
        centre = (box.bbox[1] + box.bbox[3]) / 2
        if rows and abs(centre - _centre(rows[-1])) <= height / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [_merge(sorted(row, key=lambda b: b.bbox[0])) for row in rows]


def _centre(row: list[OcrLine]) -> float:
    return sum((b.bbox[1] + b.bbox[3]) / 2 for b in row) / len(row)


def _merge(row: list[OcrLine]) -> OcrLine:
    if len(row) == 1:
        return row[0]
    bbox = (
        min(b.bbox[0] for b in row),
        min(b.bbox[1] for b in row),
        max(b.bbox[2] for b in row),
        max(b.bbox[3] for b in row),
    )
    return OcrLine(" ".join(b.text for b in row), bbox, min(b.score for b in row))
