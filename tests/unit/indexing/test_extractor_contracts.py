"""The extractor contract (tests/unit/contracts/roles.py) on the extractors not run in tests/unit/test_contracts.py.

Real: the PDF, DOCX, image, audio and video extractors, on small files made here or committed in the
repository. FAKE: the OCR and ASR they are given (`FakeOcr`, `FakeAsr`: no model weights in the unit tier);
the real RapidOCR and faster-whisper run their own contracts in tests/test_model_contracts.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.protocols import Extractor
from core.types import Granularity
from indexing.extractors.audio_extractor import AudioExtractor
from indexing.extractors.docx_extractor import DocxExtractor
from indexing.extractors.image_extractor import ImageExtractor
from indexing.extractors.pdf_extractor import PdfExtractor
from indexing.extractors.text_segments import TextLayout
from indexing.extractors.video_extractor import VideoExtractor
from indexing.sources import load_source
from tests.fixtures.data import AUDIO_DIR, SAMPLES
from tests.fixtures.rag import FACTS
from tests.unit.contracts.roles import ExtractorContract
from tests.unit.fakes import FakeAsr, FakeOcr

pytestmark = pytest.mark.unit

LAYOUT = TextLayout(chunk_chars=200, chunk_overlap=20)
SPOKEN = ["The footbridge opened in June.", "It took two years to build."]


def _granularities(extractor: Extractor, sample: Path) -> set[Granularity]:
    source = load_source(sample)
    return {e.segment.granularity for e in extractor.extract(source, str(sample))}


class TestPdfExtractor(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return PdfExtractor(layout=LAYOUT, page_render_side=128)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        import pymupdf

        doc = pymupdf.open()
        for key, text in FACTS.items():
            page = doc.new_page(width=306, height=396)
            page.insert_textbox(pymupdf.Rect(20, 20, 286, 376), f"{key.title()}\n\n{text}", fontsize=10)
        path = tmp_path / "facts.pdf"
        doc.save(path)
        doc.close()
        return path

    def test_every_page_is_found(self, extractor: Extractor, sample: Path) -> None:
        source = load_source(sample)
        pages = {e.segment.locator.page for e in extractor.extract(source, str(sample))}
        assert pages >= set(range(1, len(FACTS) + 1))


class TestDocxExtractor(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return DocxExtractor(layout=LAYOUT)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        import docx

        document = docx.Document()
        for key, text in FACTS.items():
            document.add_heading(key.title(), level=1)
            document.add_paragraph(text)
        path = tmp_path / "facts.docx"
        document.save(str(path))
        return path

    def test_paragraphs_and_a_document(self, extractor: Extractor, sample: Path) -> None:
        assert {Granularity.PARAGRAPH, Granularity.DOCUMENT} <= _granularities(extractor, sample)


class TestImageExtractorWithFakeOcr(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return ImageExtractor(ocr=FakeOcr())

    @pytest.fixture
    def sample(self) -> Path:
        return SAMPLES / "trail-sign.png"

    def test_the_picture_is_embedded_and_its_text_kept(self, extractor: Extractor, sample: Path) -> None:
        (item,) = extractor.extract(load_source(sample), str(sample))
        assert item.segment.granularity is Granularity.IMAGE and len(item.images) == 1
        assert "TRAIL SIGN" in item.segment.text


class TestAudioExtractorWithFakeAsr(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return AudioExtractor(asr=FakeAsr(SPOKEN))

    @pytest.fixture
    def sample(self) -> Path:
        return AUDIO_DIR / "footbridge.wav"

    def test_the_speech_is_in_clips_and_the_recording(self, extractor: Extractor, sample: Path) -> None:
        items = list(extractor.extract(load_source(sample), str(sample)))
        text = " ".join(i.segment.text for i in items if i.segment.granularity is Granularity.CLIP)
        assert all(s in text for s in SPOKEN)
        assert any(i.segment.granularity is not Granularity.CLIP for i in items)


class TestVideoExtractorWithFakeOcr(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return VideoExtractor(ocr=FakeOcr("SLIDE ONE"), keyframe_min_interval_s=1.0)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        from tests.fixtures.media import silent_video

        path = tmp_path / "slides.mp4"
        silent_video(path, duration_s=3.0)
        return path

    def test_frames_carry_their_on_screen_text(self, extractor: Extractor, sample: Path) -> None:
        items = list(extractor.extract(load_source(sample), str(sample)))
        frames = [i for i in items if i.segment.granularity is Granularity.FRAME]
        assert frames and all(len(f.images) == 1 for f in frames)
