"""Fusion methods on deterministic lists, and the benchmark's vectorised fusion against the product's."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_fusion_loco import Lists, fuse_lists, ranking
from core.types import Granularity, Hit, Modality, Segment
from retrieval.fusion import LengthWeighting, fuse

pytestmark = pytest.mark.unit


def _hit(doc: str, score: float, space: str) -> Hit:
    seg = Segment(
        segment_id=doc,
        source_id="s",
        uri=f"file:{doc}",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=doc,
    )
    return Hit(segment=seg, score=score, space=space)


def _lists(dense: dict[str, float], lexical: dict[str, float]) -> dict[str, list[Hit]]:
    def ordered(scores: dict[str, float], space: str) -> list[Hit]:
        return [_hit(d, s, space) for d, s in sorted(scores.items(), key=lambda kv: -kv[1])]

    return {"text": ordered(dense, "text"), "lexical": ordered(lexical, "lexical")}


def test_rrf_sums_reciprocal_ranks() -> None:
    lists = _lists({"a": 0.9, "b": 0.8}, {"b": 12.0, "c": 3.0})
    hits = fuse(lists, method="rrf", k=3)
    got = {h.segment.segment_id: h.score for h in hits}
    assert got["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert got["a"] == pytest.approx(1 / 61)
    assert [h.segment.segment_id for h in hits][0] == "b"
    assert hits[0].scores == {"text": 0.8, "lexical": 12.0, "fused": pytest.approx(1 / 62 + 1 / 61)}


def test_weighted_is_min_max_with_missing_as_zero() -> None:
    lists = _lists({"a": 0.9, "b": 0.7, "c": 0.5}, {"c": 10.0, "d": 5.0, "a": 0.0})
    got = {h.segment.segment_id: h.score for h in fuse(lists, method="weighted", k=4)}
    assert got == pytest.approx({"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.5})


def test_zscore_gives_missing_documents_the_lists_lowest_z() -> None:
    lists = _lists({"a": 3.0, "b": 2.0, "c": 1.0}, {"d": 4.0, "e": 2.0})
    got = {h.segment.segment_id: h.score for h in fuse(lists, method="zscore", k=5)}
    z = np.sqrt(1.5)  # dense z of a = 1 / sqrt(2/3)
    assert got["a"] == pytest.approx(z + -1.0)  # lexical missing -> lexical's lowest z (-1)
    assert got["d"] == pytest.approx(1.0 - z)  # dense missing -> dense's lowest z (-sqrt(1.5))
    assert got["c"] == pytest.approx(-z - 1.0)


def test_weights_change_the_winner() -> None:
    lists = _lists({"a": 0.9, "b": 0.1}, {"b": 9.0, "a": 1.0})
    assert fuse(lists, "weighted", {"lexical": 0.5}, k=1)[0].segment.segment_id == "a"
    assert fuse(lists, "weighted", {"lexical": 2.0}, k=1)[0].segment.segment_id == "b"


def test_unknown_method_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse(_lists({"a": 1.0}, {}), method="average")


def test_length_weighting_only_shrinks_long_queries() -> None:
    w = LengthWeighting(alpha=1.0, reference_terms=8)
    assert w.factor(3) == 1.0 and w.factor(8) == 1.0
    assert w.factor(16) == pytest.approx(0.5)
    assert LengthWeighting(alpha=0.0).factor(100) == 1.0


@pytest.mark.parametrize("method", ["rrf", "weighted", "zscore"])
def test_vectorised_benchmark_fusion_ranks_like_the_product(method: str) -> None:
    """The LOCO benchmark scores configurations with numpy; it must rank exactly as `fuse` does."""
    rng = np.random.default_rng(7)
    n_docs, depth, queries = 40, 12, 5
    dense_idx = np.stack([rng.permutation(n_docs)[:depth] for _ in range(queries)])
    dense_val = np.sort(rng.uniform(0.1, 0.9, (queries, depth)), axis=1)[:, ::-1]
    lex_idx = np.stack([rng.permutation(n_docs)[:depth] for _ in range(queries)])
    lex_val = np.sort(rng.uniform(1.0, 20.0, (queries, depth)), axis=1)[:, ::-1].copy()
    lex_val[:, -3:] = np.nan  # a sparse list shorter than the depth
    lex_idx = np.where(np.isnan(lex_val), -1, lex_idx)
    lists = {"text": Lists(dense_idx, dense_val), "lexical": Lists(lex_idx, lex_val)}
    weights = {"text": np.ones(queries), "lexical": np.full(queries, 0.7)}
    fused = fuse_lists(lists, weights, method, depth, 60, n_docs)
    top = ranking(fused, 8)
    for q in range(queries):
        product = fuse(
            {
                "text": [
                    _hit(str(d), float(s), "text") for d, s in zip(dense_idx[q], dense_val[q], strict=True)
                ],
                "lexical": [
                    _hit(str(d), float(s), "lexical")
                    for d, s in zip(lex_idx[q], lex_val[q], strict=True)
                    if d >= 0
                ],
            },
            method=method,
            weights={"lexical": 0.7},
            k=8,
        )
        assert [int(h.segment.segment_id) for h in product] == list(top[q])
        assert [h.score for h in product] == pytest.approx(list(fused[q, top[q]]))
