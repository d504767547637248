"""Contract-test mixins (Haystack's habit): one class per role; a backend's test class inherits it and
provides the fixture named after the role. Assertions are about the protocol, never about one backend.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.protocols import Asr, Extractor, Generator, Ocr, Reranker, Router
from core.types import Answer, Route, RouteDecision
from indexing.sources import load_source
from tests.fixtures.documents import text_picture
from tests.fixtures.rag import fact_hit

QUESTION = "When was the Zorblat bridge completed?"
KEYS = ("bridge", "frogs", "regatta", "tea")


class RerankerContract:
    """`rerank(query, hits)`: the same hits, best first, each with a `rerank` score that is its score."""

    def test_keeps_every_hit_and_scores_it(self, reranker: Reranker) -> None:
        hits = [fact_hit(k, 1.0 - i / 10) for i, k in enumerate(KEYS)]
        out = reranker.rerank(QUESTION, hits)
        assert sorted(h.segment.segment_id for h in out) == sorted(h.segment.segment_id for h in hits)
        assert all(h.scores["rerank"] == pytest.approx(h.score) for h in out)
        assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)

    def test_nothing_in_nothing_out(self, reranker: Reranker) -> None:
        assert reranker.rerank(QUESTION, []) == []

    def test_a_hit_scores_the_same_wherever_it_stands(self, reranker: Reranker) -> None:
        hits = [fact_hit(k, 0.5) for k in KEYS]
        forward = {h.segment.segment_id: h.score for h in reranker.rerank(QUESTION, hits)}
        backward = {h.segment.segment_id: h.score for h in reranker.rerank(QUESTION, hits[::-1])}
        assert forward == pytest.approx(backward)


class GeneratorContract:
    """`generate(query, evidence)` → an Answer citing only the evidence; `stream` yields text pieces."""

    def test_answers_citing_only_the_evidence(self, generator: Generator) -> None:
        evidence = [fact_hit(k) for k in KEYS]
        answer = generator.generate(QUESTION, evidence)
        assert isinstance(answer, Answer) and isinstance(answer.text, str) and answer.text
        ids = {h.segment.segment_id for h in evidence}
        assert all(1 <= c.n <= len(evidence) and c.segment.segment_id in ids for c in answer.citations)
        assert not (answer.abstained and answer.citations)

    def test_streams_text(self, generator: Generator) -> None:
        pieces = list(generator.stream(QUESTION, [fact_hit("bridge")]))
        assert pieces and all(isinstance(p, str) for p in pieces) and "".join(pieces).strip()

    def test_declares_whether_it_needs_evidence(self, generator: Generator) -> None:
        assert isinstance(generator.needs_evidence, bool)

    def test_without_evidence_it_says_so_or_answers_uncited(self, generator: Generator) -> None:
        answer = generator.generate(QUESTION, [])
        assert answer.citations == ()


class RouterContract:
    """`route(query)` → a decision selecting at least one known route, probabilities in [0, 1]."""

    @pytest.mark.parametrize(
        "query", [QUESTION, "a photo of a red bicycle", "how do I tie a bowline knot", ""]
    )
    def test_selects_known_routes(self, router: Router, query: str) -> None:
        decision = router.route(query)
        assert isinstance(decision, RouteDecision) and decision.selected
        assert set(decision.selected) <= set(Route) and len(set(decision.selected)) == len(decision.selected)
        assert all(0.0 <= p <= 1.0 for p in decision.probabilities.values())
        assert isinstance(decision.router, str) and decision.router

    def test_is_deterministic(self, router: Router) -> None:
        assert router.route(QUESTION) == router.route(QUESTION)


class ExtractorContract:
    """`accepts(source)` for its own files; `extract` yields segments of that source, the same every time.

    The backend's test class provides `extractor` and `sample` (a file it accepts).
    """

    def test_accepts_its_sample(self, extractor: Extractor, sample: Path) -> None:
        assert extractor.accepts(load_source(sample))

    def test_segments_belong_to_the_source_and_are_stable(self, extractor: Extractor, sample: Path) -> None:
        source = load_source(sample)
        first = [e.segment for e in extractor.extract(source, str(sample))]
        second = [e.segment for e in extractor.extract(source, str(sample))]
        assert first and first == second
        assert all(s.source_id == source.source_id for s in first)
        assert len({s.segment_id for s in first}) == len(first)


class OcrContract:
    """`read(image)` gives the words in reading order; `read_lines` the same lines with boxes and scores."""

    def test_reads_the_words(self, ocr: Ocr) -> None:
        assert {"TOTAL", "4271"} <= set(ocr.read(text_picture("INVOICE TOTAL 4271")).split())

    def test_lines_match_the_text_and_lie_in_the_picture(self, ocr: Ocr) -> None:
        picture = text_picture("INVOICE TOTAL 4271")
        lines = ocr.read_lines(picture)
        assert lines and "\n".join(line.text for line in lines) == ocr.read(picture)
        for line in lines:
            x0, y0, x1, y1 = line.bbox
            assert 0 <= x0 < x1 <= picture.width and 0 <= y0 < y1 <= picture.height
            assert 0.0 <= line.score <= 1.0

    def test_a_blank_picture_has_no_text(self, ocr: Ocr) -> None:
        blank = Image.new("RGB", (800, 740), "white")
        assert ocr.read(blank) == "" and list(ocr.read_lines(blank)) == []


class AsrContract:
    """`transcribe(audio)` gives time-ordered speech; `iter_transcribe` the same, as it goes.

    The backend's test class provides `asr` and `speech` (a recording and its exact transcript).
    """

    def test_transcribes_a_recording(self, asr: Asr, speech: tuple[Path, str]) -> None:
        path, transcript = speech
        segments = list(asr.transcribe(path))
        assert segments and all(0.0 <= s.start_s <= s.end_s for s in segments)
        assert [s.start_s for s in segments] == sorted(s.start_s for s in segments)
        heard = set(re.findall(r"[a-z']+", " ".join(s.text for s in segments).lower()))
        said = set(re.findall(r"[a-z']+", transcript.lower()))
        assert len(heard & said) >= len(said) // 2, (heard, said)

    def test_streaming_gives_the_same_segments(self, asr: Asr, speech: tuple[Path, str]) -> None:
        path, _ = speech
        assert [s.text for s in asr.iter_transcribe(path)] == [s.text for s in asr.transcribe(path)]

    def test_silence_has_no_words(self, asr: Asr) -> None:
        silence = np.zeros(16_000 * 3, dtype=np.float32)
        assert "".join(s.text for s in asr.transcribe(silence)).strip() == ""
