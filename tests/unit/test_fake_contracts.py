"""The fakes of the unit tier run their role's contract too, so a unit test over a fake says something about
the real backends (which run the same mixins in the integration tier, tests/test_model_contracts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.protocols import Asr, Generator, Ocr
from tests.fixtures.data import AUDIO_DIR
from tests.fixtures.documents import OCR_WORDS
from tests.unit.contracts.roles import AsrContract, GeneratorContract, OcrContract
from tests.unit.fakes import FakeAsr, FakeCompletingGenerator, FakeOcr

pytestmark = pytest.mark.unit

SPEECH = AUDIO_DIR / "footbridge.wav"
TRANSCRIPT = (AUDIO_DIR / "footbridge.txt").read_text(encoding="utf-8")


class TestFakeOcr(OcrContract):
    @pytest.fixture
    def ocr(self) -> Ocr:
        return FakeOcr(OCR_WORDS)  # FAKE: "reads" the words the contract's picture shows


class TestFakeAsr(AsrContract):
    @pytest.fixture
    def asr(self) -> Asr:
        return FakeAsr([TRANSCRIPT])  # FAKE: "hears" the recording's own transcript

    @pytest.fixture
    def speech(self) -> tuple[Path, str]:
        return SPEECH, TRANSCRIPT


class TestFakeCompletingGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self) -> Generator:
        return FakeCompletingGenerator("A fixed reply.")
