"""Every cheap backend of each role runs its role's contract (tests/unit/contracts/roles.py).

Backends that need model weights run the same mixins in the integration tier when their weights are there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.protocols import Extractor, Generator, Reranker, Router
from generation.extractive_generator import ExtractiveGenerator
from indexing.extractors.html_extractor import HtmlExtractor
from indexing.extractors.markdown_extractor import MarkdownExtractor
from indexing.extractors.text_extractor import TextExtractor
from indexing.extractors.text_segments import TextLayout
from rerank.embedding_reranker import EmbeddingReranker
from rerank.rerankers import NoReranker
from retrieval.routing.backends import AllRoutesRouter
from retrieval.routing.llm_router import LlmRouter
from tests.fixtures.rag import FACTS
from tests.unit.contracts.roles import ExtractorContract, GeneratorContract, RerankerContract, RouterContract
from tests.unit.fakes import FakeCompletingGenerator, FakeWordsOnlyGenerator, HashingTextEncoder

pytestmark = pytest.mark.unit

LAYOUT = TextLayout(chunk_chars=200, chunk_overlap=20)


class TestNoReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> Reranker:
        return NoReranker()


class TestEmbeddingReranker(RerankerContract):
    @pytest.fixture
    def reranker(self) -> Reranker:
        return EmbeddingReranker(HashingTextEncoder())  # FAKE encoder: the reranking logic is real


class TestExtractiveGenerator(GeneratorContract):
    @pytest.fixture
    def generator(self) -> Generator:
        return ExtractiveGenerator(HashingTextEncoder())


class TestAllRoutesRouter(RouterContract):
    @pytest.fixture
    def router(self) -> Router:
        return AllRoutesRouter()


class TestLlmRouterWithACompleter(RouterContract):
    @pytest.fixture
    def router(self) -> Router:
        return LlmRouter(FakeCompletingGenerator("paragraph, document"))


class TestLlmRouterWithoutCompletion(RouterContract):
    @pytest.fixture
    def router(self) -> Router:
        return LlmRouter(FakeWordsOnlyGenerator())


class TestTextExtractor(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return TextExtractor(layout=LAYOUT)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "facts.txt"
        path.write_text("\n\n".join(FACTS.values()), encoding="utf-8")
        return path


class TestMarkdownExtractor(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return MarkdownExtractor(layout=LAYOUT)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "facts.md"
        path.write_text("\n\n".join(f"# {k}\n\n{v}" for k, v in FACTS.items()), encoding="utf-8")
        return path


class TestHtmlExtractor(ExtractorContract):
    @pytest.fixture
    def extractor(self) -> Extractor:
        return HtmlExtractor(layout=LAYOUT)

    @pytest.fixture
    def sample(self, tmp_path: Path) -> Path:
        path = tmp_path / "facts.html"
        body = "".join(f"<h2>{k}</h2><p>{v}</p>" for k, v in FACTS.items())
        path.write_text(
            f"<html><head><title>Facts</title></head><body>{body}</body></html>", encoding="utf-8"
        )
        return path
