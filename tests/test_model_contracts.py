"""The OCR and ASR contracts (tests/unit/contracts/roles.py) on the built-in backends: real models, shipped
in Python packages (RapidOCR's ONNX models, faster-whisper tiny.en), so they run offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.protocols import Asr, Ocr
from indexing.whisper_asr import WhisperAsr
from tests.fixtures.data import TEST_DATA
from tests.fixtures.documents import shared_ocr
from tests.unit.contracts.roles import AsrContract, OcrContract

pytestmark = pytest.mark.integration


class TestRapidOcr(OcrContract):
    @pytest.fixture
    def ocr(self) -> Ocr:
        return shared_ocr()


class TestWhisperAsr(AsrContract):
    @pytest.fixture(scope="class")
    def asr(self) -> Asr:
        return WhisperAsr()  # the packaged tiny.en

    @pytest.fixture
    def speech(self) -> tuple[Path, str]:
        folder = TEST_DATA / "audio"
        return folder / "footbridge.wav", (folder / "footbridge.txt").read_text(encoding="utf-8")
