"""The role contracts (tests/unit/contracts/roles.py) on the backends that need model weights: real models,
shipped in Python packages (RapidOCR's ONNX models, faster-whisper tiny.en, MiniLM) or built here with random
weights (tiny BERT cross-encoder, tiny Qwen2-VL: the production code path, meaningless scores), so they run
offline. Each model is loaded once per class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.protocols import Asr, Generator, Ocr, Reranker, Router
from indexing.extractors.whisper_asr import WhisperAsr
from tests.fixtures.data import TEST_DATA
from tests.fixtures.documents import shared_ocr
from tests.unit.contracts.roles import (
    AsrContract,
    GeneratorContract,
    OcrContract,
    RerankerContract,
    RouterContract,
)

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


@pytest.fixture(scope="module")
def tiny_qwen2vl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

    return build_tiny_qwen2vl(tmp_path_factory.mktemp("tiny-qwen2vl"))


class TestCrossEncoderReranker(RerankerContract):
    @pytest.fixture(scope="class")
    def reranker(self, tmp_path_factory: pytest.TempPathFactory) -> Reranker:
        from rerank.cross_encoder_reranker import CrossEncoderReranker
        from tests.fixtures.tiny_cross_encoder import build_tiny_cross_encoder

        return CrossEncoderReranker(
            str(build_tiny_cross_encoder(tmp_path_factory.mktemp("ce"))), device="cpu"
        )


class TestMllmReranker(RerankerContract):
    @pytest.fixture(scope="class")
    def reranker(self, tiny_qwen2vl: Path) -> Reranker:
        from rerank.mllm_reranker import MllmReranker

        return MllmReranker(str(tiny_qwen2vl), device="cpu")


class TestTransformersGenerator(GeneratorContract):
    @pytest.fixture(scope="class")
    def generator(self, tiny_qwen2vl: Path) -> Generator:
        from generation.transformers_generator import TransformersGenerator

        return TransformersGenerator(str(tiny_qwen2vl), device="cpu", max_tokens=6)


class TestTrainedRouterOnMiniLm(RouterContract):
    @pytest.fixture
    def router(self, text_encoder: Any) -> Router:
        from retrieval.routing.trained_router import TrainedRouter

        return TrainedRouter(text_encoder)  # the shipped weights were trained on this encoder
