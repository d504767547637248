"""The generator contract (tests/unit/contracts/roles.py) on the generators not run in tests/unit/test_contracts.py.

Real: the OpenAI-compatible generator, over HTTP to a local stand-in server (tests/fixtures/rag.py: loopback
only, no real LLM), and the extractive generator without a text encoder (its lexical-only mode). The GGUF
and transformers generators need model weights: they run in the integration tier.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.protocols import Generator, StreamingGenerator
from generation.extractive_generator import ExtractiveGenerator
from generation.openai_generator import OpenAIGenerator
from tests.fixtures.rag import fact_hit, stand_in_chat_server
from tests.unit.contracts.roles import QUESTION, GeneratorContract

pytestmark = pytest.mark.unit


class TestOpenAIGeneratorOnAStandInServer(GeneratorContract):
    @pytest.fixture(scope="class")  # one server: stopping one takes half a second
    def generator(self) -> Iterator[Generator]:
        with stand_in_chat_server("It was completed in 1911 [1].") as server:
            yield OpenAIGenerator(server.url, "stand-in-model")

    def test_streams_raw_text_and_finishes_it_into_the_same_answer(self, generator: Generator) -> None:
        assert isinstance(generator, StreamingGenerator)
        evidence = [fact_hit("bridge"), fact_hit("tea")]
        raw = "".join(generator.stream(QUESTION, evidence))
        finished = generator.finish(raw, evidence)
        answered = generator.generate(QUESTION, evidence)
        assert (finished.text, finished.citations) == (answered.text, answered.citations)
        assert [c.segment.uri for c in answered.citations] == ["bridge.txt"]


class TestExtractiveGeneratorWithoutAnEncoder(GeneratorContract):
    @pytest.fixture
    def generator(self) -> Generator:
        return ExtractiveGenerator(None)

    def test_quotes_the_fact_that_answers(self, generator: Generator) -> None:
        answer = generator.generate(QUESTION, [fact_hit("tea"), fact_hit("bridge"), fact_hit("frogs")])
        assert "1911" in answer.text and not answer.abstained
        assert [c.segment.uri for c in answer.citations] == ["bridge.txt"]
