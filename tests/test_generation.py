"""Generators: prompts, citation mapping, the extractive generator (noisy evidence, abstention), the OpenAI
client against a stand-in server, and the transformers MLLM generator on a tiny random Qwen2-VL."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.builders import build_generator
from core.errors import ConfigError
from core.settings import Settings
from core.types import Granularity
from generation.citations import is_abstention, resolve_citations
from generation.extractive_generator import ExtractiveGenerator
from generation.openai_generator import OpenAIGenerator
from generation.prompts import IDK, build_prompt
from tests.fixtures.rag import fact_hit, stand_in_chat_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def extractive(text_encoder: Any) -> ExtractiveGenerator:
    return ExtractiveGenerator(text_encoder)


def test_citations_keep_valid_numbers_and_drop_invented_ones() -> None:
    hits = [fact_hit("bridge"), fact_hit("frogs"), fact_hit("tea")]
    text, cites = resolve_citations("Built in 1911 [1][7]. Frogs [2, 3] and again [1].", hits)
    assert text == "Built in 1911 [1]. Frogs [2][3] and again [1]."
    assert [c.n for c in cites] == [1, 2, 3]
    assert cites[1].segment.segment_id == hits[1].segment.segment_id
    assert resolve_citations("Nothing here [4].", hits[:1]) == ("Nothing here.", ())


def test_abstention_detection() -> None:
    assert is_abstention("I don't know.") and is_abstention("Sorry, I do not know that.")
    assert not is_abstention("The bridge was completed in 1911 [1].")


def test_prompt_puts_numbered_evidence_before_the_question() -> None:
    prompt = build_prompt("When was the bridge completed?", [fact_hit("frogs"), fact_hit("bridge")])
    text = prompt.text()
    assert text.index("[1] frogs.txt") < text.index("[2] bridge.txt") < text.index("Question:")
    assert "[n]" in prompt.system or "[1]" in prompt.system
    assert IDK in prompt.system and IDK in text
    assert "Zorblat" in text


def test_extractive_answers_from_the_right_evidence_despite_noise(extractive: ExtractiveGenerator) -> None:
    # Irrelevant evidence ranked above the relevant one (retrieval noise) must not take over the answer.
    evidence = [
        fact_hit("regatta", 0.9),
        fact_hit("tea", 0.8),
        fact_hit("bridge", 0.5),
        fact_hit("frogs", 0.4),
    ]
    answer = extractive.generate("When was the Zorblat bridge completed?", evidence)
    assert not answer.abstained
    assert "1911" in answer.text and "[3]" in answer.text
    assert [c.n for c in answer.citations] == [3]
    assert answer.citations[0].segment.uri == "bridge.txt"

    frogs = extractive.generate("Why can you see the organs of glass frogs?", evidence)
    assert [c.segment.uri for c in frogs.citations] == ["frogs.txt"] and "translucent" in frogs.text


@pytest.mark.parametrize(
    "question", ["Who won the 1998 chess olympiad?", "What is the population of the Mars colony Alpha?"]
)
def test_extractive_abstains_without_good_evidence(extractive: ExtractiveGenerator, question: str) -> None:
    answer = extractive.generate(question, [fact_hit(k) for k in ("bridge", "frogs", "regatta", "tea")])
    assert answer.abstained and answer.text == f"{IDK}." and answer.citations == ()


def test_extractive_abstains_with_no_evidence_and_streams(extractive: ExtractiveGenerator) -> None:
    assert extractive.generate("When was the bridge completed?", []).abstained
    pieces = list(extractive.stream("How do basalt columns form?", [fact_hit("basalt")]))
    assert len(pieces) > 3 and "".join(pieces).endswith("[1].")


def _picture(segment: Any) -> Image.Image | None:
    return Image.new("RGB", (40, 30), (200, 30, 30)) if segment.media_ref else None


def test_openai_generator_against_a_stand_in_server() -> None:
    """A local HTTP server stands in for an OpenAI-compatible endpoint (no real LLM here)."""
    evidence = [fact_hit("frogs"), fact_hit("bridge", granularity=Granularity.IMAGE)]
    evidence[1] = type(evidence[1])(
        segment=type(evidence[1].segment)(**{**evidence[1].segment.__dict__, "media_ref": "img-0.jpg"}),
        score=1.0,
    )
    with stand_in_chat_server("It was completed in 1911 [2][5].") as server:
        gen = OpenAIGenerator(server.url, "stand-in-model", api_key="k1", picture=_picture)
        answer = gen.generate("When was the bridge completed?", evidence)
        streamed = list(gen.stream("When was the bridge completed?", evidence))
    assert answer.text == "It was completed in 1911 [2]."  # [5] points at nothing: dropped
    assert [c.segment.uri for c in answer.citations] == ["bridge.txt"]
    assert len(streamed) > 1 and "".join(streamed) == "It was completed in 1911 [2][5]."
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k1"
    body = request["body"]
    assert body["model"] == "stand-in-model" and body["stream"] is False
    assert server.requests[1]["body"]["stream"] is True
    parts = body["messages"][1]["content"]
    images = [p for p in parts if p["type"] == "image_url"]
    assert len(images) == 1 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])))
    assert decoded.size == (40, 30)
    assert "Question: When was the bridge completed?" in parts[-1]["text"]


def test_openai_generator_abstention_has_no_citations() -> None:
    """Stand-in server again: a model that says it does not know yields an abstention."""
    with stand_in_chat_server("I don't know. [1]") as server:
        answer = OpenAIGenerator(server.url, "m").generate("Who won in 1998?", [fact_hit("tea")])
    assert answer.abstained and answer.citations == ()


def test_build_generator_by_name() -> None:
    assert isinstance(build_generator(Settings(generator="extractive")), ExtractiveGenerator)
    with pytest.raises(ConfigError):
        build_generator(Settings(generator="openai", generator_model=""))
    gguf = build_generator(Settings(generator="gguf"))
    assert type(gguf).__name__ == "GgufGenerator" and gguf._llama is None  # lazy: nothing loaded yet


def test_transformers_generator_on_tiny_qwen2vl(tmp_path: Path) -> None:
    """Tiny random Qwen2-VL: exercises chat template, image parts and streaming; the text is noise."""
    from generation.transformers_generator import TransformersGenerator
    from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

    model_dir = build_tiny_qwen2vl(tmp_path / "qwen")
    gen = TransformersGenerator(str(model_dir), device="cpu", picture=_picture, max_tokens=6)
    evidence = [fact_hit("frogs"), fact_hit("bridge")]
    evidence[1] = type(evidence[1])(
        segment=type(evidence[1].segment)(**{**evidence[1].segment.__dict__, "media_ref": "p.jpg"}), score=1.0
    )
    prompt = gen.prompt("When was the bridge completed?", evidence)
    assert sum(p.image is not None for p in prompt.parts) == 1  # the MLLM sees the picture
    answer = gen.generate("When was the bridge completed?", evidence)
    assert isinstance(answer.text, str) and answer.text
    assert all(1 <= c.n <= 2 for c in answer.citations)
