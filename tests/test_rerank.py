"""Rerankers and adaptive selection: the embedding reranker (text, CLIP, GRAM) on the real MiniLM and a tiny
CLIP, and the cross-encoder and MLLM rerankers on tiny random models (real code path, meaningless scores)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from app.builders import build_reranker
from core.errors import ConfigError
from core.settings import Settings
from core.types import LEXICAL_BONUS, Granularity, Hit, Modality
from rerank.embedding_reranker import EmbeddingReranker
from rerank.rerankers import NoReranker
from rerank.selection import select_evidence
from tests.fixtures.rag import fact_hit

pytestmark = pytest.mark.integration


def _scored(*scores: float) -> list[Hit]:
    keys = ["bridge", "frogs", "regatta", "basalt", "tea"]
    return [fact_hit(keys[i], s) for i, s in enumerate(scores)]


def test_selection_keeps_hits_close_to_the_best() -> None:
    kept = select_evidence(_scored(0.9, 0.8, 0.5, 0.1), threshold=0.7, min_k=1, max_k=5)
    assert [h.score for h in kept] == [0.9, 0.8]
    assert len(select_evidence(_scored(0.9, 0.1, 0.05), threshold=0.7, min_k=2, max_k=5)) == 2
    assert len(select_evidence(_scored(0.5, 0.5, 0.5, 0.5, 0.5), threshold=0.7, min_k=1, max_k=3)) == 3
    assert select_evidence([], threshold=0.7) == []


def test_selection_handles_negative_scores_and_sorts() -> None:
    # Cross-encoder logits can be negative: shifted so the worst is 0, the threshold still means something.
    kept = select_evidence(_scored(-4.0, 3.0, 2.5, -3.5), threshold=0.8, min_k=1, max_k=5)
    assert [h.score for h in kept] == [3.0, 2.5]


def test_embedding_reranker_puts_the_answering_text_first(text_encoder: Any) -> None:
    hits = [fact_hit("regatta", 0.03), fact_hit("tea", 0.02), fact_hit("bridge", 0.01)]
    out = EmbeddingReranker(text_encoder).rerank("When was the Zorblat bridge completed?", hits)
    assert out[0].segment.uri == "bridge.txt"
    assert out[0].score == out[0].scores["rerank"] > 2 * out[1].score
    assert out[0].scores["fused"] == 0.01  # earlier stage scores are kept
    # A dense score from the search is reused instead of re-embedding the text.
    reused = EmbeddingReranker(text_encoder).rerank("q", [replace(hits[0], scores={"text": 0.42})])
    assert reused[0].score == pytest.approx(0.42)
    # The search's lexical evidence (BM25 in cosine units) is added: a hit that matched the words too
    # outranks one with a slightly higher cosine alone.
    lexical = replace(hits[1], scores={"text": 0.40, LEXICAL_BONUS: 0.1})
    both = EmbeddingReranker(text_encoder).rerank("q", [replace(hits[0], scores={"text": 0.42}), lexical])
    assert [h.segment.uri for h in both] == ["tea.txt", "regatta.txt"]
    assert both[0].score == pytest.approx(0.5)


@pytest.fixture(scope="module")
def clip(tiny_clip: str) -> Any:
    from indexing.encoders.open_clip_encoder import OpenClipEncoder

    encoder = OpenClipEncoder(model=tiny_clip, device="cpu")
    encoder.load()
    return encoder


def _clip_hit(key: str, gram: dict[str, list[float]]) -> Hit:
    hit = fact_hit(key, 0.5, granularity=Granularity.CLIP)
    seg = replace(hit.segment, modality=Modality.VIDEO, text="", metadata={"gram": gram})
    return replace(hit, segment=seg)


@pytest.mark.parametrize("fusion", ["gram", "mean"])
def test_embedding_reranker_scores_clips_with_gram(text_encoder: Any, clip: Any, fusion: str) -> None:
    from core.gram import gram_similarity, mean_cosine_score

    query = "a dog running on the beach"
    aligned = clip.encode_documents([query, query])
    unrelated = clip.encode_documents(["a plate of food with broccoli", "people riding bicycles at night"])
    hits = [
        _clip_hit("tea", {"speech": unrelated[0].tolist(), "ocr": unrelated[1].tolist()}),
        _clip_hit("bridge", {"speech": aligned[0].tolist(), "ocr": aligned[1].tolist()}),
    ]
    reranker = EmbeddingReranker(text_encoder, clip, clip_scale=2.0, clip_fusion=fusion)
    out = reranker.rerank(query, hits)
    assert out[0].segment.uri == "bridge.txt"
    q = clip.encode_queries([query])[0]
    score = gram_similarity if fusion == "gram" else mean_cosine_score
    vectors = [np.asarray(v) for v in hits[0].segment.metadata["gram"].values()]
    expected = 2.0 * max(0.0, score(q, vectors))
    assert out[1].score == pytest.approx(expected, abs=1e-5)


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.tiny_cross_encoder import build_tiny_cross_encoder

    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"))


def test_cross_encoder_reranker_on_a_tiny_bert(cross_encoder_dir: Path) -> None:
    """Tiny random BERT cross-encoder: sigmoid scores, sorted output, deterministic; not semantics."""
    settings = Settings(reranker="cross-encoder", reranker_model=str(cross_encoder_dir), device="cpu")
    reranker = build_reranker(settings, text_encoder=None)  # type: ignore[arg-type]
    hits = _scored(0.9, 0.8, 0.7)
    out = reranker.rerank("When was the bridge completed?", hits)
    assert sorted(h.segment.uri for h in out) == sorted(h.segment.uri for h in hits)
    assert all(0.0 <= h.scores["rerank"] <= 1.0 for h in out)
    assert [h.score for h in out] == sorted((h.score for h in out), reverse=True)
    again = reranker.rerank("When was the bridge completed?", list(reversed(hits)))
    assert {h.segment.uri: h.score for h in again} == pytest.approx({h.segment.uri: h.score for h in out})


def test_cross_encoder_reports_a_missing_model() -> None:
    from core.errors import ModelUnavailableError
    from rerank.cross_encoder_reranker import CrossEncoderReranker

    with pytest.raises(ModelUnavailableError, match="could not be loaded"):
        CrossEncoderReranker("no-such-org/no-such-cross-encoder", device="cpu").rerank("q", _scored(1.0))


def test_mllm_reranker_scores_pointwise_and_looks_at_the_picture(tmp_path: Path) -> None:
    """Tiny random Qwen2-VL: P(yes) comes out in (0, 1) and the stored picture changes the score."""
    from rerank.mllm_reranker import MllmReranker
    from tests.fixtures.tiny_qwen2vl import build_tiny_qwen2vl

    model_dir = build_tiny_qwen2vl(tmp_path / "qwen")
    picture = tmp_path / "frame.jpg"
    Image.new("RGB", (56, 56), (20, 120, 240)).save(picture)
    hit = fact_hit("bridge", 0.5, granularity=Granularity.IMAGE)
    visual = replace(hit, segment=replace(hit.segment, media_ref="frame.jpg"))
    with_media = MllmReranker(str(model_dir), media_path=lambda seg: picture, device="cpu")
    without = MllmReranker(str(model_dir), device="cpu")
    p_image = with_media.score("When was the bridge completed?", visual.segment)
    p_text = without.score("When was the bridge completed?", visual.segment)
    assert 0.0 < p_image < 1.0 and 0.0 < p_text < 1.0
    assert p_image != pytest.approx(p_text, abs=1e-7)
    out = with_media.rerank("When was the bridge completed?", [fact_hit("tea"), visual])
    assert len(out) == 2 and all("rerank" in h.scores for h in out)
    # Pointwise: a hit's score does not depend on its position in the list.
    swapped = with_media.rerank("When was the bridge completed?", [visual, fact_hit("tea")])
    assert {h.segment.uri: h.score for h in swapped} == pytest.approx({h.segment.uri: h.score for h in out})


def test_build_reranker_by_name(text_encoder: Any) -> None:
    assert isinstance(build_reranker(Settings(reranker="embedding"), text_encoder), EmbeddingReranker)
    none = build_reranker(Settings(reranker="none"), text_encoder)
    assert isinstance(none, NoReranker) and none.rerank("q", _scored(0.3))[0].scores["rerank"] == 0.3
    with pytest.raises(ConfigError):
        build_reranker(Settings.model_construct(reranker="bogus"), text_encoder)
