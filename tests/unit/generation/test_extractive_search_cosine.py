"""The extractive generator reuses the search's dense cosine for a sentence that is its whole evidence item
(the same model embedded the same text at index time) and embeds only the other sentences: same scores,
fewer sentences embedded. Real packaged MiniLM; the encoder is wrapped only to count what it embeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from core.types import Granularity, Hit, Locator, Modality, Segment
from generation.extractive_generator import ExtractiveGenerator

pytestmark = pytest.mark.integration  # the real MiniLM

QUESTION = "When was the lighthouse on Gull Point built?"
ONE_SENTENCE = "The lighthouse on Gull Point was built in 1871 and automated in 1962."
TWO_SENTENCES = "Volunteers open the tower on Sundays. The footbridge over Alder Creek is closed."


class Counting:
    """The real encoder, counting the documents it embeds."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.embedded: list[str] = []

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode_queries(texts))

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.asarray(self.encoder.encode_documents(texts))


def hit(name: str, text: str, scores: dict[str, float]) -> Hit:
    segment = Segment(
        segment_id=name,
        source_id=name,
        uri=f"{name}.md",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=text,
        locator=Locator(index=0),
    )
    return Hit(segment=segment, score=0.5, scores=scores)


def test_whole_item_sentence_takes_the_search_cosine(text_encoder: Any) -> None:
    q = np.asarray(text_encoder.encode_queries([QUESTION])[0])
    searched = float(np.asarray(text_encoder.encode_documents([ONE_SENTENCE]))[0] @ q)
    evidence = [hit("a", ONE_SENTENCE, {"text": searched}), hit("b", TWO_SENTENCES, {"text": 0.1})]
    counting = Counting(text_encoder)
    generator = ExtractiveGenerator(counting)
    reused = generator.scores(QUESTION, generator._sentences(evidence))
    assert sorted(counting.embedded) == [
        "The footbridge over Alder Creek is closed.",
        "Volunteers open the tower on Sundays.",
    ]

    counting.embedded.clear()  # without the search's scores every sentence is embedded: same scores
    cold = [replace(h, scores={}) for h in evidence]
    embedded = generator.scores(QUESTION, generator._sentences(cold))
    assert ONE_SENTENCE in counting.embedded
    np.testing.assert_allclose(reused, embedded, atol=1e-4)
    answer = generator.generate(QUESTION, evidence)
    assert "1871" in answer.text and [c.segment.segment_id for c in answer.citations] == ["a"]


def test_a_copy_in_a_coarser_item_lends_its_cosine(text_encoder: Any) -> None:
    counting = Counting(text_encoder)
    generator = ExtractiveGenerator(counting)
    paragraph = hit("p", ONE_SENTENCE, {"text": 0.42})
    whole = f"{ONE_SENTENCE} {TWO_SENTENCES}"
    document = replace(
        hit("p", whole, {"text": 0.3}),
        segment=replace(paragraph.segment, segment_id="d", granularity=Granularity.DOCUMENT, text=whole),
    )
    sentences = generator._sentences([document, paragraph])
    kept = [s for s in sentences if s.text == ONE_SENTENCE]
    assert len(kept) == 1 and kept[0].n == 2 and kept[0].cosine == pytest.approx(0.42)
    generator.scores(QUESTION, sentences)
    assert ONE_SENTENCE not in counting.embedded and len(counting.embedded) == 2
