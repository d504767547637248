"""retrieval/fusion.py on hand-made lists: edge cases the method tests in tests/test_fusion.py leave out.

Empty inputs, ties, truncation to k, the rrf offset, the z-score floor, which hit's payload survives, and
the query-length weighting's boundaries.
"""

from __future__ import annotations

import math

import pytest

from core.types import Granularity, Hit, Modality, Segment
from retrieval.fusion import METHODS, RRF_K, LengthWeighting, fuse, fuse_scores

pytestmark = pytest.mark.unit


def _hit(doc: str, score: float, space: str, text: str | None = None) -> Hit:
    seg = Segment(
        segment_id=doc,
        source_id="s" * 64,
        uri=f"{doc}.txt",
        modality=Modality.TEXT,
        granularity=Granularity.PARAGRAPH,
        text=text if text is not None else doc,
    )
    return Hit(segment=seg, score=score, space=space, scores={space: score})


def _ids(hits: list[Hit]) -> list[str]:
    return [h.segment.segment_id for h in hits]


@pytest.mark.parametrize("method", METHODS)
def test_nothing_to_fuse_gives_nothing(method: str) -> None:
    assert fuse({}, method=method) == []
    assert fuse({"text": [], "lexical": []}, method=method) == []
    assert fuse_scores({"text": []}, method=method) == []


@pytest.mark.parametrize("method", METHODS)
def test_an_empty_list_beside_a_full_one_changes_nothing(method: str) -> None:
    full = [_hit("a", 0.9, "text"), _hit("b", 0.5, "text"), _hit("c", 0.1, "text")]
    alone = fuse({"text": full}, method=method)
    beside = fuse({"text": full, "lexical": []}, method=method)
    assert _ids(beside) == _ids(alone) == ["a", "b", "c"]
    assert [h.score for h in beside] == pytest.approx([h.score for h in alone])


@pytest.mark.parametrize("method", METHODS)
def test_k_truncates_and_never_pads(method: str) -> None:
    lists = {
        "text": [_hit(d, 1.0 - i / 10, "text") for i, d in enumerate("abcd")],
        "lexical": [_hit(d, 9.0 - i, "lexical") for i, d in enumerate("cde")],
    }
    assert len(fuse(lists, method=method, k=2)) == 2
    everything = fuse(lists, method=method, k=100)
    assert sorted(_ids(everything)) == list("abcde")  # the union, each once
    assert _ids(fuse(lists, method=method, k=3)) == _ids(everything)[:3]
    assert fuse(lists, method=method, k=0) == []


@pytest.mark.parametrize("method", METHODS)
def test_ties_keep_the_order_the_lists_first_name_them(method: str) -> None:
    """Two segments with the same fused score come out in a fixed order: first named, first out."""
    lists = {"text": [_hit("x", 0.8, "text"), _hit("y", 0.2, "text")]}
    mirrored = {"text": [_hit("y", 0.8, "text"), _hit("x", 0.2, "text")]}
    # x leads the text list, y the lexical list by the same margin: equal fused scores
    both = {**lists, "lexical": [_hit("y", 0.8, "lexical"), _hit("x", 0.2, "lexical")]}
    both_mirrored = {**mirrored, "lexical": [_hit("x", 0.8, "lexical"), _hit("y", 0.2, "lexical")]}
    first, second = fuse(both, method=method), fuse(both_mirrored, method=method)
    assert first[0].score == pytest.approx(first[1].score)
    assert _ids(first) == ["x", "y"] and _ids(second) == ["y", "x"]
    assert _ids(fuse(both, method=method)) == _ids(first), "not deterministic"


def test_equal_scores_within_a_list() -> None:
    """A list whose scores are all equal: min-max gives each 1, z-score 0, rrf still ranks by position."""
    flat = {"text": [_hit("a", 0.4, "text"), _hit("b", 0.4, "text")]}
    assert [h.score for h in fuse(flat, "weighted")] == [1.0, 1.0]
    assert [h.score for h in fuse(flat, "zscore")] == [0.0, 0.0]
    assert [h.score for h in fuse(flat, "rrf")] == pytest.approx([1 / (RRF_K + 1), 1 / (RRF_K + 2)])


def test_a_single_hit_list_gets_the_top_contribution() -> None:
    one = {"text": [_hit("a", 0.3, "text")]}
    assert fuse(one, "weighted")[0].score == 1.0
    assert fuse(one, "zscore")[0].score == 0.0
    assert fuse(one, "rrf", rrf_k=0)[0].score == 1.0


def test_the_rrf_offset_sets_how_fast_ranks_fade() -> None:
    lists = {"text": [_hit("a", 0.9, "text"), _hit("b", 0.1, "text")]}
    steep = fuse(lists, "rrf", rrf_k=0)
    flat = fuse(lists, "rrf", rrf_k=1000)
    assert [h.score for h in steep] == pytest.approx([1.0, 0.5])
    assert [h.score for h in flat] == pytest.approx([1 / 1001, 1 / 1002])


def test_rrf_ignores_the_scores_themselves() -> None:
    small = {"text": [_hit("a", 0.02, "text"), _hit("b", 0.01, "text")]}
    huge = {"text": [_hit("a", 900.0, "text"), _hit("b", -5.0, "text")]}
    assert [h.score for h in fuse(small, "rrf")] == pytest.approx([h.score for h in fuse(huge, "rrf")])


@pytest.mark.parametrize("method", METHODS)
def test_a_zero_weight_list_does_not_move_the_ranking(method: str) -> None:
    text = [_hit("a", 0.9, "text"), _hit("b", 0.6, "text"), _hit("c", 0.3, "text")]
    noise = [_hit("c", 50.0, "lexical"), _hit("b", 20.0, "lexical"), _hit("a", 1.0, "lexical")]
    fused = fuse({"text": text, "lexical": noise}, method, weights={"lexical": 0.0})
    assert _ids(fused) == ["a", "b", "c"]


def test_zscore_floor_keeps_scores_on_the_lists_scale() -> None:
    """Every segment in every list: the missing-segment floor cancels out, scores are plain z sums."""
    lists = {
        "text": [_hit("a", 3.0, "text"), _hit("b", 1.0, "text")],
        "lexical": [_hit("b", 10.0, "lexical"), _hit("a", 0.0, "lexical")],
    }
    got = {h.segment.segment_id: h.score for h in fuse(lists, "zscore")}
    assert got == pytest.approx({"a": 0.0, "b": 0.0})


def test_the_first_hit_of_a_segment_carries_its_payload_and_every_raw_score() -> None:
    lists = {
        "text": [_hit("a", 0.7, "text", text="from the text list")],
        "lexical": [_hit("a", 12.0, "lexical", text="from the lexical list")],
    }
    (hit,) = fuse(lists, "weighted")
    assert hit.segment.text == "from the text list"
    assert hit.space == "fused"
    assert hit.scores == {"text": 0.7, "lexical": 12.0, "fused": pytest.approx(2.0)}


def test_fuse_scores_matches_fuse() -> None:
    lists = {
        "text": [_hit("a", 0.9, "text"), _hit("b", 0.4, "text")],
        "lexical": [_hit("b", 5.0, "lexical"), _hit("c", 2.0, "lexical")],
    }
    pairs = {space: [(h.segment.segment_id, h.score) for h in hits] for space, hits in lists.items()}
    for method in METHODS:
        by_id = fuse_scores(pairs, method, {"lexical": 0.5}, k=3)
        by_hit = fuse(lists, method, {"lexical": 0.5}, k=3)
        assert [sid for sid, _, _ in by_id] == _ids(by_hit)
        assert [score for _, score, _ in by_id] == pytest.approx([h.score for h in by_hit])
        assert by_id[0][2] == {k: v for k, v in by_hit[0].scores.items() if k != "fused"}


@pytest.mark.parametrize("method", ["average", "", "RRF"])
def test_an_unknown_method_fails_loudly_once_there_is_a_list(method: str) -> None:
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({"text": [_hit("a", 1.0, "text")]}, method=method)
    with pytest.raises(ValueError, match="unknown fusion method"):
        fuse({"text": []}, method=method)


def test_length_weighting_boundaries() -> None:
    off = LengthWeighting()
    assert off.factor(0) == off.factor(1000) == 1.0
    half = LengthWeighting(alpha=0.5, reference_terms=4)
    assert half.factor(4) == 1.0  # at the reference: untouched
    assert half.factor(16) == pytest.approx(0.5)
    assert half.factor(0) == 1.0
    factors = [half.factor(n) for n in range(4, 40)]
    assert factors == sorted(factors, reverse=True) and all(0 < f <= 1 for f in factors)
    assert math.isclose(LengthWeighting(alpha=-1.0).factor(100), 1.0)  # a negative alpha is off, not a boost
